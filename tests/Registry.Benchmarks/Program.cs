using BenchmarkDotNet.Running;
using Registry.Benchmarks.Micro;
using Registry.Benchmarks.Scenarios;

// dotnet run -c Release --project tests/Registry.Benchmarks -- scenarios --a http://127.0.0.1:5000 --a-pid <pid> --start-distribution 5001
// dotnet run -c Release --project tests/Registry.Benchmarks -- shutdown --registry-dll services/edge-http/bin/Release/net10.0/Registry.EdgeHttp.dll
// dotnet run -c Release --project tests/Registry.Benchmarks -- micro [--job short] [--filter '*Digest*'] [other BenchmarkDotNet options]
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

// SIGTERM (a timeout, a cancelled job) stops the run the same way, so the servers it started are stopped too.
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(
    System.Runtime.InteropServices.PosixSignal.SIGTERM,
    context =>
    {
        context.Cancel = true;
        stop.Cancel();
    });

var command = args.Length > 0 ? args[0] : string.Empty;
var rest = args.Length > 0 ? args[1..] : [];
switch (command)
{
    case "scenarios":
        return await ScenariosCommand.RunAsync(rest, stop.Token);
    case "soak":
        return await SoakCommand.RunAsync(rest, stop.Token);
    case "shutdown":
        return await ShutdownCommand.RunAsync(rest, stop.Token);
    case "micro":
        BenchmarkSwitcher.FromAssembly(typeof(MicroConfig).Assembly).Run(MicroConfig.Arguments(rest), new MicroConfig());
        return 0;
    default:
        Console.Error.WriteLine("usage: Registry.Benchmarks scenarios ... | micro [BenchmarkDotNet options]");
        Console.Error.WriteLine(ScenariosCommand.Usage);
        Console.Error.WriteLine(ShutdownCommand.Usage);
        Console.Error.WriteLine(SoakCommand.Usage);
        return 2;
}
