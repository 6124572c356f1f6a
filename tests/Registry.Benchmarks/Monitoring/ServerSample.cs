namespace Registry.Benchmarks.Monitoring;

/// <summary>One reading of the server processes.</summary>
internal readonly record struct ServerSample(double RssMiB, int Threads, int Fds, double CpuSeconds);
