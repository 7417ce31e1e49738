namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// Tests that measure time or rates (downtime, pacing, dirty rate against bandwidth, auto-converge). They run one
/// at a time, after the parallel tests, so that the two cores are theirs while they measure.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection : ICollectionFixture<TimingCollection.ThreadPoolWarmth>
{
    public const string Name = "Engine timing";

    /// <summary>
    /// Lets the thread pool start a few more threads without its injection delay. In the test host the pool starts
    /// with two workers per the two cores, one of which the host's message loop keeps blocked; measured without this,
    /// the engine's pacing timer continuations (and the test's own) waited 0.7-1 s at a time for a worker, which is
    /// the host's starvation, not the engine's pacing. The engine itself never blocks a pool thread.
    /// </summary>
    public sealed class ThreadPoolWarmth
    {
        public ThreadPoolWarmth()
        {
            ThreadPool.GetMinThreads(out var workers, out var io);
            Assert.True(ThreadPool.SetMinThreads(Math.Max(workers, 8), Math.Max(io, 8)));
        }
    }
}
