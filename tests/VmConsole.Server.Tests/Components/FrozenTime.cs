namespace VmConsole.Server.Tests.Components;

/// <summary>
/// A clock that does not move: registered for a test's components, a live view renders its first change at once and then
/// waits for a 100 ms that never pass, so the test decides what the page has seen. Only the components get it; the
/// emulator and the engine keep the real clock.
/// </summary>
internal sealed class FrozenTime : TimeProvider
{
    private readonly long _now = System.GetTimestamp();

    public override long GetTimestamp() => _now;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) => new NeverFires();

    private sealed class NeverFires : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
