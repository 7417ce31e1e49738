using Bunit;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Server.Api;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

/// <summary>One migration as the page shows it, from the numbers it is given: units, dirty rates, progress, summary.</summary>
public sealed class MigrationViewTests : ConsoleComponentContext
{
    private static readonly DateTimeOffset Started = new(2026, 12, 3, 8, 0, 0, TimeSpan.Zero);

    [Fact]
    public void MigrationView_FirstPassBeforeAnyDirtySync_ShowsLiveDirtyRateBesideNoSyncYet()
    {
        var cut = Render<MigrationView>(p => p
            .Add(c => c.Migration, Active(remainingMiB: 900, dirtySyncCount: 1, dirtyPagesRate: 0))
            .Add(c => c.Live, true)
            .Add(c => c.LiveDirtyPagesRate, 2000));

        Assert.Equal("7.8 MiB/s (2,000 pages/s)", Fact(cut, "Dirty rate (live)"));
        Assert.Equal("no sync yet (first pass)", Fact(cut, "Dirty rate at last sync"));
    }

    [Fact]
    public void MigrationView_AfterASync_ShowsBothDirtyRatesInBytesThenPages()
    {
        var cut = Render<MigrationView>(p => p
            .Add(c => c.Migration, Active(remainingMiB: 300, dirtySyncCount: 3, dirtyPagesRate: 512))
            .Add(c => c.Live, true)
            .Add(c => c.LiveDirtyPagesRate, 256));

        Assert.Equal("1 MiB/s (256 pages/s)", Fact(cut, "Dirty rate (live)"));
        Assert.Equal("2 MiB/s (512 pages/s)", Fact(cut, "Dirty rate at last sync"));
    }

    [Fact]
    public void MigrationView_Numbers_RatesInBytesPerSecondAndDurationsAsAPersonReadsThem()
    {
        var migration = Active(remainingMiB: 512, mbps: 100 * Sizes.MiB * 8 / 1e6, pagesPerSecond: 25_600) with { TotalTime = 3_780_000, SetupTime = 57_237 };
        var cut = Render<MigrationView>(p => p.Add(c => c.Migration, migration).Add(c => c.Live, true));

        Assert.Equal("100 MiB/s (25,600 pages/s)", Fact(cut, "Throughput"));
        Assert.Equal("1 h 3 min", Fact(cut, "Total time"));
        Assert.Equal("57 s", Fact(cut, "Setup time"));
        Assert.Contains("max bandwidth 128 MiB/s", cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("57,237", cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("Mbit/s", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public void MigrationView_Running_ShowsPercentElapsedAndEtaFromRemainingOverThroughput()
    {
        var migration = Active(remainingMiB: 600, mbps: 100 * Sizes.MiB * 8 / 1e6) with { TotalTime = 12_000 };
        var cut = Render<MigrationView>(p => p.Add(c => c.Migration, migration).Add(c => c.Live, true));

        Assert.Equal("40 %", cut.Find("[data-testid='migration-percent']").TextContent);
        Assert.Equal("12 s", cut.Find("[data-testid='migration-elapsed']").TextContent);
        Assert.Equal("about 6 s", cut.Find("[data-testid='migration-eta']").TextContent);
    }

    [Fact]
    public void MigrationView_GuestDirtiesFasterThanItIsSent_NoEtaAndSaysWhy()
    {
        // 1 MiB/s sent against 2,000 pages/s (7.8 MiB/s) dirtied: remaining over throughput would promise an end
        // that precopy never reaches.
        var migration = Active(remainingMiB: 600, mbps: Sizes.MiB * 8 / 1e6) with { TotalTime = 12_000 };
        var cut = Render<MigrationView>(p => p.Add(c => c.Migration, migration).Add(c => c.Live, true).Add(c => c.LiveDirtyPagesRate, 2000));

        Assert.Equal("none while the guest dirties as fast as this sends", cut.Find("[data-testid='migration-eta']").TextContent);
    }

    [Fact]
    public void MigrationView_NothingSentYet_EtaIsUnknown()
    {
        var cut = Render<MigrationView>(p => p.Add(c => c.Migration, Active(remainingMiB: 1000, mbps: 0)).Add(c => c.Live, true));

        Assert.Equal("—", cut.Find("[data-testid='migration-eta']").TextContent);
    }

    [Fact]
    public void MigrationView_RemainingGrows_PercentHoldsAndSaysWhy()
    {
        var cut = Render<MigrationView>(p => p.Add(c => c.Migration, Active(remainingMiB: 400)).Add(c => c.Live, true));
        Assert.Equal("60 %", cut.Find("[data-testid='migration-percent']").TextContent);
        Assert.Empty(cut.FindAll("[data-testid='migration-remaining-grew']"));

        // QEMU's remaining grew at a dirty sync: the bar does not go back to 30 %, and the page says why.
        cut.Render(p => p.Add(c => c.Migration, Active(remainingMiB: 700)));

        Assert.Equal("60 %", cut.Find("[data-testid='migration-percent']").TextContent);
        Assert.Equal("60", cut.Find("[data-testid='migration-progress']").GetAttribute("data-percent"));
        Assert.StartsWith("remaining grew: the pages the guest dirtied during the last pass are sent again", cut.Find("[data-testid='migration-remaining-grew']").TextContent, StringComparison.Ordinal);

        // The guest dirties 128 MiB/s against the 12 MiB/s sent: it will keep growing.
        cut.Render(p => p.Add(c => c.Migration, Active(remainingMiB: 750)).Add(c => c.LiveDirtyPagesRate, 32_768));
        Assert.Equal("60 %", cut.Find("[data-testid='migration-percent']").TextContent);
        Assert.StartsWith("remaining grew: the guest dirties faster than the migration sends (128 MiB/s against 11.9 MiB/s)", cut.Find("[data-testid='migration-remaining-grew']").TextContent, StringComparison.Ordinal);

        // Past where it was: the bar moves on and the note goes.
        cut.Render(p => p.Add(c => c.Migration, Active(remainingMiB: 200)).Add(c => c.LiveDirtyPagesRate, 0));
        Assert.Equal("80 %", cut.Find("[data-testid='migration-percent']").TextContent);
        Assert.Empty(cut.FindAll("[data-testid='migration-remaining-grew']"));
    }

    [Fact]
    public void MigrationView_CompletedAboveItsDowntimeLimit_WarnsAndLinksWhereTheVmRuns()
    {
        var cut = Render<MigrationView>(p => p.Add(c => c.Migration, Completed(downtime: 1546)));

        var summary = cut.Find("[data-testid='migration-summary']");
        Assert.Equal("warning", summary.GetAttribute("data-severity"));
        Assert.Contains("Downtime 1,546 ms exceeded the 300 ms limit", cut.Find("[data-testid='migration-downtime-exceeded']").TextContent, StringComparison.Ordinal);
        Assert.Contains("now runs on host-b", summary.TextContent, StringComparison.Ordinal);
        var link = cut.Find("[data-testid='migration-vm-link']");
        Assert.Equal("vms/vm1", link.GetAttribute("href"));
        Assert.Equal("100 %", cut.Find("[data-testid='migration-percent']").TextContent);
    }

    [Fact]
    public void MigrationView_CompletedWithinItsDowntimeLimit_IsASuccess()
    {
        var cut = Render<MigrationView>(p => p.Add(c => c.Migration, Completed(downtime: 120)));

        Assert.Equal("success", cut.Find("[data-testid='migration-summary']").GetAttribute("data-severity"));
        Assert.Empty(cut.FindAll("[data-testid='migration-downtime-exceeded']"));
        Assert.Equal("vms/vm1", cut.Find("[data-testid='migration-vm-link']").GetAttribute("href"));
    }

    [Theory]
    [InlineData(true, "host-b", null, "Verified: the destination's memory matches the source's byte for byte.", "now runs on host-b")]
    [InlineData(false, "host-b", null, "Verification failed.", "now runs on host-b")]
    [InlineData(null, "qemu-a", "unix:/run/vmc/qemu-a/vms/vm1/incoming.sock", "Not verified byte for byte: the destination is a QEMU on qemu-a, which loaded the whole stream.", "now runs on qemu-a")]
    [InlineData(null, null, "tcp:127.0.0.1:4444", "Not verified (external destination).", "now runs outside the console, at tcp:127.0.0.1:4444")]
    public void MigrationView_Completed_SaysHowItWasVerifiedAndWhereTheVmRuns(bool? verified, string? destinationHost, string? uri, string verification, string runsOn)
    {
        var cut = Render<MigrationView>(p => p.Add(c => c.Migration, Completed(downtime: 120) with { Verified = verified, DestinationHost = destinationHost, Uri = uri }));

        Assert.Equal(verification, cut.Find("[data-testid='migration-verified']").TextContent.Trim());
        Assert.Contains(runsOn, cut.Find("[data-testid='migration-runs-on']").TextContent, StringComparison.Ordinal);
        Assert.Equal(destinationHost is null ? 0 : 1, cut.FindAll("[data-testid='migration-vm-link']").Count);
    }

    /// <summary>An outgoing migration of 1,000 MiB to host-b, active.</summary>
    internal static MigrationDto Active(long remainingMiB, long dirtySyncCount = 2, double dirtyPagesRate = 0, double mbps = 100, double pagesPerSecond = 3000) => new(
        "m-1", "vm1", "host-a", "host-b", null, "active", MigrationParameters.Default, MigrationCapabilities.Default,
        SetupTime: 5, TotalTime: 10_000, ExpectedDowntime: 250, Downtime: null,
        new MigrationRamDto(Transferred: (1000 - remainingMiB) * Sizes.MiB, Remaining: remainingMiB * Sizes.MiB, Total: 1000 * Sizes.MiB, Duplicate: 0, Normal: 0, NormalBytes: 0,
            DirtyPagesRate: dirtyPagesRate, Mbps: mbps, DirtySyncCount: dirtySyncCount, PageSize: 4096, PagesPerSecond: pagesPerSecond, PrecopyBytes: 0, DowntimeBytes: 0),
        CpuThrottlePercentage: 0, ErrorDesc: null, Verified: null, ThrottleSteps: [],
        [new MigrationEventDto("setup", Started), new MigrationEventDto("active", Started.AddMilliseconds(5))], "outgoing");

    internal static MigrationDto Completed(long downtime) => Active(remainingMiB: 0) with
    {
        Status = "completed",
        Downtime = downtime,
        Verified = true,
        Events = [new MigrationEventDto("setup", Started), new MigrationEventDto("active", Started.AddMilliseconds(5)), new MigrationEventDto("completed", Started.AddSeconds(10))],
    };

    private static string Fact(IRenderedComponent<MigrationView> cut, string label) =>
        cut.FindAll("[data-testid='migration-stats'] .vmc-fact")
            .Single(f => f.Children[0].TextContent.Trim() == label)
            .Children[1].TextContent.Trim();
}
