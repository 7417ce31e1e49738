using VmConsole.Emulation;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>Bytes the tests put into a guest and look for on the other side.</summary>
internal static class QemuStreams
{
    public const long HostCapacity = 4L << 30;

    public static Emulator NewEmulator(out string host)
    {
        var emulator = new Emulator();
        host = "h1";
        emulator.AddHost(host, HostCapacity);
        return emulator;
    }

    /// <summary>Distinct, non-zero bytes for an address, so that a page landing at the wrong place shows.</summary>
    public static byte[] Pattern(long address, int length) =>
        [.. Enumerable.Range(0, length).Select(i => (byte)(((address >> 12) * 31 + i * 7 + 1) % 251 + 1))];

    /// <summary>Writes with qtest: one byte with writeb, then the pattern with write, at each address.</summary>
    public static async Task WriteAsync(QemuProcess qemu, IEnumerable<(long Address, int Length)> places)
    {
        foreach (var (address, length) in places)
        {
            await qemu.WritebAsync(address, 0xA5);
            Assert.Equal([0xA5], await qemu.ReadAsync(address, 1));
            await qemu.WriteAsync(address, Pattern(address, length));
        }
    }

    /// <summary>QEMU writes its stream to <paramref name="path"/> (migrate exec:cat &gt; FILE) and completes.</summary>
    public static async Task SaveAsync(QemuProcess qemu, string path)
    {
        await qemu.QmpAsync("migrate", new { uri = $"exec:cat > {path}" });
        await qemu.WaitMigrationAsync();
    }

    /// <summary>A stream that only reads forward, as a socket does.</summary>
    public sealed class ForwardOnly(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 7919));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer[..Math.Min(buffer.Length, 7919)], cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
