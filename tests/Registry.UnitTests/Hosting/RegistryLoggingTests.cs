using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Registry.Hosting.Logging;

namespace Registry.UnitTests.Hosting;

public sealed class RegistryLoggingTests
{
    [Fact]
    public async Task TwoHostsInOneProcess_EachWritesToItsOwnFile_AndOutlivesTheOther()
    {
        var directory = Directory.CreateTempSubdirectory("registry-logging-");
        try
        {
            var firstFile = Path.Combine(directory.FullName, "first.log");
            var secondFile = Path.Combine(directory.FullName, "second.log");
            var first = Build(firstFile);
            var second = Build(secondFile);
            var firstLogger = first.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Registry.Test");
            var secondLogger = second.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Registry.Test");

            firstLogger.LogWarning("line from the first host");
            secondLogger.LogWarning("line from the second host while both run");
            await first.DisposeAsync();
            secondLogger.LogWarning("line from the second host after the first stopped");
            await second.DisposeAsync();

            var firstText = await File.ReadAllTextAsync(firstFile);
            var secondText = await File.ReadAllTextAsync(secondFile);
            Assert.Contains("line from the first host", firstText, StringComparison.Ordinal);
            Assert.DoesNotContain("second host", firstText, StringComparison.Ordinal);
            Assert.Contains("line from the second host while both run", secondText, StringComparison.Ordinal);
            Assert.Contains("line from the second host after the first stopped", secondText, StringComparison.Ordinal);
            Assert.DoesNotContain("first host\"", secondText, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static WebApplication Build(string file)
    {
        var builder = WebApplication.CreateSlimBuilder([$"--Registry:Logging:File={file}", "--Serilog:MinimumLevel:Default=Information"]);
        builder.UseRegistryLogging();
        return builder.Build();
    }
}
