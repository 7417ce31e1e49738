using System.IO.Pipelines;
using VmConsole.Migration.Transports;

namespace VmConsole.Migration.Tests.Engine;

public sealed class PipeBufferPoolTests
{
    [Fact]
    public void Rent_AfterReturn_ReusesTheSameBuffer()
    {
        var pool = new PipeBufferPool(4096, maxRetained: 4);
        var first = pool.Rent(100);
        var array = first.Memory;
        first.Dispose();

        using var second = pool.Rent(4096);

        Assert.True(second.Memory.Span == array.Span, "a returned buffer was not reused");
        Assert.Same(first, second);
        Assert.Equal(4096, second.Memory.Length);
        Assert.Equal(0, pool.IdleCount);
    }

    [Fact]
    public void Return_MoreThanMaxRetained_KeepsOnlyTheBound()
    {
        var pool = new PipeBufferPool(4096, maxRetained: 2);
        var leases = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();

        leases.ForEach(l => l.Dispose());

        Assert.Equal(2, pool.IdleCount);
    }

    [Fact]
    public void Dispose_Twice_ReturnsOnce()
    {
        var pool = new PipeBufferPool(4096, maxRetained: 8);
        var lease = pool.Rent();

        lease.Dispose();
        lease.Dispose();

        Assert.Equal(1, pool.IdleCount);
        Assert.Throws<ObjectDisposedException>(() => lease.Memory);
    }

    [Fact]
    public void Rent_LargerThanABlock_GivesAnUnpooledBufferOfThatSize()
    {
        var pool = new PipeBufferPool(4096, maxRetained: 8);

        using (var big = pool.Rent(10_000))
        {
            Assert.True(big.Memory.Length >= 10_000);
        }

        Assert.Equal(0, pool.IdleCount);
    }

    [Fact]
    public async Task InProcessPipe_LaggingReader_CreatesBuffersOnlyForWhatIsInFlight()
    {
        // The in-process pipe's own options over a pool of this test's (the shared one serves tests running beside it).
        var pool = new PipeBufferPool(64 << 10, maxRetained: 256);
        var pipe = new Pipe(MigrationChannel.InProcessOptions(pool));
        var reader = pipe.Reader;
        var drain = Task.Run(async () =>
        {
            while (true)
            {
                // A receiver that lags: it takes the bytes 6 MiB (96 segments) at a time, so that many are in flight
                // and come back in a burst, as when the destination is busy writing memory.
                var result = await reader.ReadAsync();
                if (result.IsCompleted)
                {
                    reader.AdvanceTo(result.Buffer.End);
                    return;
                }

                if (result.Buffer.Length >= 6 << 20)
                {
                    reader.AdvanceTo(result.Buffer.End);
                }
                else
                {
                    reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                }
            }
        });

        // 128 MiB (2,048 segments) through the pipe: buffers are created only for what is in flight, then taken from the
        // pool. In flight is the 8 MiB window (128 segments) plus the flush the writer is in; and when the reader consumes
        // a burst, the pipe may wake the writer before the reader's thread has handed all of the burst back, so on a busy
        // machine the writer can rent up to a second window before the returns land (208 seen once on CI, 129-136
        // usually). Bounded by two windows either way, never by the 2,048 segments that went through.
        await PumpAsync(pipe.Writer, 128 << 20);
        await pipe.Writer.CompleteAsync();
        await drain;

        Assert.InRange(pool.Created, 96, 2 * 128 + 8);
    }

    private static async Task PumpAsync(PipeWriter output, long bytes)
    {
        for (long sent = 0; sent < bytes; sent += 16 << 10)
        {
            output.GetSpan(16 << 10)[..(16 << 10)].Fill(0x5a);
            output.Advance(16 << 10);
            if (sent % (256 << 10) == 0)
            {
                await output.FlushAsync();
            }
        }

        await output.FlushAsync();
    }
}
