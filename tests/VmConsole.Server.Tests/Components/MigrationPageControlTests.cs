using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

/// <summary>The migration page driven by a migration the test holds: its writer moves only when the test says so.</summary>
public sealed class MigrationPageControlTests : ConsoleComponentContext
{
    public MigrationPageControlTests() => Emulator.AddHost("host-b", 8 * Sizes.GiB);

    [Fact]
    public async Task MigrationPage_PreSwitchoverThenContinue_Completes()
    {
        RenderProviders();
        CreateVm("vm1", memoryMiB: 32);
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true } });
        var cut = Render<MigrationPage>(p => p.Add(c => c.Id, migration.Id));

        cut.WaitForAssertion(() => Assert.Equal("pre-switchover", cut.Find("[data-testid='migration-status']").GetAttribute("data-status")), TimeSpan.FromSeconds(20));
        Assert.Equal(MigrationStatus.PreSwitchover, migration.Status);

        // Found and clicked in one turn of the renderer: the live page may render again in between otherwise.
        await cut.InvokeAsync(() => cut.Find("[data-testid='migration-continue']").Click());

        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(MigrationStatus.Completed, migration.Status);
        cut.WaitForAssertion(() => Assert.Equal("completed", cut.Find("[data-testid='migration-status']").GetAttribute("data-status")));
        Assert.Empty(cut.FindAll("[data-testid='migration-continue']"));
        Assert.Contains(ActionLog.Lines, l => l.Action == $"Continued migration {migration.Id}" && l.Code == null);
    }

    [Fact]
    public async Task MigrationPage_WriterHeld_NumbersMoveOnlyWhenBytesAreLetThrough()
    {
        var (migration, writer) = await StartHeldAsync();
        try
        {
            var cut = Render<MigrationPage>(p => p.Add(c => c.Id, migration.Id));
            cut.WaitForAssertion(() => Assert.Equal(1, writer.FlushesEntered));
            Assert.Equal("0 B", Fact(cut, "Transferred"));
            Assert.Equal(Sizes.Format(migration.Total), Fact(cut, "Remaining"));

            // Held at the setup's flush: nothing moves, whenever the page renders again.
            RenderAgain(cut, migration);
            Assert.Equal("0 B", Fact(cut, "Transferred"));
            Assert.Equal(0, migration.GetStats().Transferred);

            writer.Allow(3);

            // Three flushes through, the worker held at the fourth: the page shows what those three sent.
            cut.WaitForAssertion(() => Assert.Equal(4, writer.FlushesEntered), TimeSpan.FromSeconds(10));
            var moved = migration.GetStats().Transferred;
            Assert.NotEqual(0, moved);
            cut.WaitForAssertion(() => Assert.Equal(Sizes.Format(moved), Fact(cut, "Transferred")));

            RenderAgain(cut, migration);
            Assert.Equal(moved, migration.GetStats().Transferred);
            Assert.Equal(Sizes.Format(moved), Fact(cut, "Transferred"));
        }
        finally
        {
            migration.Cancel();
            writer.Release();
            await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));
        }
    }

    [Fact]
    public async Task MigrationPage_CancelWhileTheWorkerIsHeld_ShowsCancellingUntilCancelled()
    {
        var (migration, writer) = await StartHeldAsync();
        try
        {
            writer.Allow(2);
            var cut = Render<MigrationPage>(p => p.Add(c => c.Id, migration.Id));
            cut.WaitForAssertion(() => Assert.Equal("active", cut.Find("[data-testid='migration-status']").GetAttribute("data-status")), TimeSpan.FromSeconds(10));

            await cut.InvokeAsync(() => cut.Find("[data-testid='migration-cancel']").Click());

            // The worker has seen the cancel and is held while it ends the stream: the migration stays in cancelling.
            await writer.Unwinding.WaitAsync(TimeSpan.FromSeconds(10));
            cut.WaitForAssertion(() => Assert.Equal("cancelling", cut.Find("[data-testid='migration-status']").GetAttribute("data-status")));
            RenderAgain(cut, migration);
            Assert.Contains("Cancelling...", cut.Find("[data-testid='migration-cancelling']").TextContent, StringComparison.Ordinal);
            Assert.Empty(cut.FindAll("[data-testid='migration-cancel']"));
            Assert.Equal(MigrationStatus.Cancelling, migration.Status);

            writer.Release();

            cut.WaitForAssertion(() => Assert.Equal("cancelled", cut.Find("[data-testid='migration-status']").GetAttribute("data-status")), TimeSpan.FromSeconds(10));
            Assert.Empty(cut.FindAll("[data-testid='migration-cancelling']"));
        }
        finally
        {
            migration.Cancel();
            writer.Release();
            await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));
        }
    }

    /// <summary>A migration of a 32 MiB VM whose worker is held at its first flush, and the writer that holds it.</summary>
    private async Task<(VmConsole.Migration.Engine.PrecopyMigration Migration, GatedWriter Writer)> StartHeldAsync()
    {
        RenderProviders();
        var channels = GatedChannels.Install(Engine, holdFlushes: true);
        CreateVm("vm1", memoryMiB: 32);
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" });
        return (migration, await channels.For(migration).WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// <summary>Has the page render again (a progress report, as the worker would send) and waits for that render.</summary>
    private static void RenderAgain(IRenderedComponent<MigrationPage> cut, VmConsole.Migration.Engine.PrecopyMigration migration)
    {
        var renders = cut.RenderCount;
        migration.ReportProgress();
        cut.WaitForAssertion(() => Assert.True(cut.RenderCount > renders), TimeSpan.FromSeconds(10));
    }

    private static string Fact(IRenderedComponent<MigrationPage> cut, string label) =>
        cut.FindAll("[data-testid='migration-stats'] .vmc-fact")
            .Single(f => f.Children[0].TextContent.Trim() == label)
            .Children[1].TextContent.Trim();
}

/// <summary>The page's live renders wait on a clock that does not move, so it can show a Continue the migration no longer allows.</summary>
public sealed class MigrationPageRefusalTests : ConsoleComponentContext
{
    public MigrationPageRefusalTests() => Emulator.AddHost("host-b", 8 * Sizes.GiB);

    protected override void AddServices(IServiceCollection services) => services.AddSingleton<TimeProvider>(new FakeTimeProvider());

    [Fact]
    public async Task MigrationPage_ContinueNoLongerAllowed_ShowsTheRefusalInASnackbar()
    {
        RenderProviders();
        CreateVm("vm1", memoryMiB: 32);
        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true } });
        await WaitForAsync(() => migration.Status == MigrationStatus.PreSwitchover);
        var cut = Render<MigrationPage>(p => p.Add(c => c.Id, migration.Id));
        Assert.NotNull(cut.Find("[data-testid='migration-continue']"));

        // The page's first live render (the recorded samples, loaded behind the first render) is immediate; any after it
        // would wait for the frozen clock.
        cut.WaitForAssertion(() => Assert.Equal(1, cut.Instance.LiveRenders));

        // Rendered once more through its parameters (not the clock), so that the test holds the page as it is now.
        cut.Render();
        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));

        // The page still offers Continue; the migration says no. Found and clicked on the renderer's context, so that no
        // render of a child (a button's own) can come between the two.
        await cut.InvokeAsync(() => cut.Find("[data-testid='migration-continue']").Click());

        Snackbars.WaitForAssertion(() => Assert.Contains("continue is only for a migration waiting in pre-switchover", Snackbars.Markup, StringComparison.Ordinal));
        Assert.Contains(ActionLog.Lines, l => l.Action == $"Continued migration {migration.Id}" && l.Code == "not-pre-switchover");
    }

    private static Task WaitForAsync(Func<bool> condition) => Eventually.Until(condition, TimeSpan.FromSeconds(20));
}
