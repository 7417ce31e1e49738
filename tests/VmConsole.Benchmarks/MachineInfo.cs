using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VmConsole.Benchmarks;

/// <summary>What the figures were measured on: CPU model, cores, memory, OS, .NET, QEMU.</summary>
public static class MachineInfo
{
    public static string Describe()
    {
        var cpu = ReadCpuModel() ?? RuntimeInformation.ProcessArchitecture.ToString();
        var memoryGiB = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)(1L << 30);
        var qemu = QemuVersion() ?? "QEMU not installed";
        return $"{cpu}, {Environment.ProcessorCount} cores, {memoryGiB:0} GiB, {RuntimeInformation.OSDescription}, " +
               $".NET {Environment.Version}, {qemu}";
    }

    private static string? ReadCpuModel()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path))
        {
            return null;
        }

        var line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line?[(line.IndexOf(':') + 1)..].Trim();
    }

    /// <summary>The first line of <c>qemu-system-x86_64 --version</c>, or null when it is not installed.</summary>
    public static string? QemuVersion()
    {
        const string binary = "/usr/bin/qemu-system-x86_64";
        if (!File.Exists(binary))
        {
            return null;
        }

        using var process = Process.Start(new ProcessStartInfo(binary, "--version") { RedirectStandardOutput = true });
        var first = process?.StandardOutput.ReadLine();
        process?.WaitForExit();
        return first?.Trim();
    }
}
