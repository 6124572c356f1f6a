using System.Text;

namespace Registry.EndToEndTests.Support;

/// <summary>Outcome of one external command, with everything needed to explain a failure.</summary>
public sealed record ProcessResult(string CommandLine, int ExitCode, byte[] StandardOutputBytes, string StandardError, TimeSpan Elapsed, bool TimedOut)
{
    public string StandardOutput => Encoding.UTF8.GetString(StandardOutputBytes);

    public bool Succeeded => ExitCode == 0 && !TimedOut;

    public string Describe()
    {
        var text = new StringBuilder();
        text.Append("$ ").AppendLine(CommandLine);
        text.Append(TimedOut ? "TIMED OUT after " : "exit code ")
            .Append(TimedOut ? Elapsed.ToString() : ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Append(" (").Append(Elapsed.TotalSeconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)).AppendLine(" s)");
        text.AppendLine("--- stdout ---").AppendLine(Trim(StandardOutput));
        text.AppendLine("--- stderr ---").AppendLine(Trim(StandardError));
        return text.ToString();
    }

    /// <summary>Fails the test with the command, exit code, stdout and stderr unless the command succeeded.</summary>
    public ProcessResult EnsureSuccess(string what)
    {
        Assert.True(Succeeded, $"{what} failed:\n{Describe()}");
        return this;
    }

    private static string Trim(string s) => s.Length <= 12_000 ? s : string.Concat(s.AsSpan(0, 4_000), "\n...[cut]...\n", s.AsSpan(s.Length - 8_000));
}
