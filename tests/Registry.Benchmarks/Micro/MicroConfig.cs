using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;

namespace Registry.Benchmarks.Micro;

/// <summary>
/// The default BenchmarkDotNet config plus allocated bytes per operation. The job comes from the command
/// line (--job short|medium|long); <see cref="Arguments"/> adds --inProcess so no generated project has to
/// be built, which matters on a shared 2-core box.
/// </summary>
internal sealed class MicroConfig : ManualConfig
{
    public MicroConfig()
    {
        Add(DefaultConfig.Instance);
        AddDiagnoser(MemoryDiagnoser.Default);
    }

    /// <summary>The user's BenchmarkDotNet arguments, with every benchmark and in-process runs by default.</summary>
    public static string[] Arguments(string[] args)
    {
        var result = new List<string>(args);
        if (!result.Contains("--filter") && !result.Contains("-f"))
        {
            result.AddRange(["--filter", "*"]);
        }

        if (!result.Contains("--inProcess") && !result.Contains("-i") && !result.Contains("--outOfProcess"))
        {
            result.Add("--inProcess");
        }

        result.Remove("--outOfProcess");
        return [.. result];
    }
}
