using BenchmarkDotNet.Loggers;

namespace VmConsole.Benchmarks.Micro;

/// <summary>
/// BenchmarkDotNet's errors and warnings, to stderr: stdout carries only the runner's table. Its full log goes to the
/// log file it writes among its artifacts.
/// </summary>
internal sealed class StderrLogger : ILogger
{
    private bool _lineOpen;

    public string Id => nameof(StderrLogger);

    public int Priority => 0;

    public void Write(LogKind logKind, string text)
    {
        if (logKind is LogKind.Error or LogKind.Warning)
        {
            Console.Error.Write(_lineOpen ? text : "  bdn: " + text);
            _lineOpen = true;
        }
    }

    public void WriteLine()
    {
        if (_lineOpen)
        {
            Console.Error.WriteLine();
            _lineOpen = false;
        }
    }

    public void WriteLine(LogKind logKind, string text)
    {
        Write(logKind, text);
        WriteLine();
    }

    public void Flush() => Console.Error.Flush();
}
