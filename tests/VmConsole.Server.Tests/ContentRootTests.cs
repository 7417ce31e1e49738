using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Emulation;

namespace VmConsole.Server.Tests;

/// <summary>The top-level appsettings.json and wwwroot/ are what the server really reads and serves.</summary>
public sealed class ContentRootTests
{
    [Fact]
    public void Resolve_NoArguments_IsTheRepositoryTopLevel()
    {
        Assert.Equal(RepositoryRoot.Path, ContentRoot.Resolve([]));
    }

    [Fact]
    public void Resolve_ExplicitContentRoot_LeavesTheChoiceToTheHost()
    {
        Assert.Null(ContentRoot.Resolve(["--contentRoot=/srv/console"]));
    }

    [Fact]
    public async Task StaticFiles_AppCss_IsTheTopLevelFile()
    {
        await using var factory = new ConsoleFactory();
        using var client = factory.CreateClient();

        var response = await client.GetAsync(new Uri("/css/app.css", UriKind.Relative));

        response.EnsureSuccessStatusCode();
        Assert.Equal("text/css", response.Content.Headers.ContentType?.MediaType);
        var expected = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "wwwroot", "css", "app.css"));
        Assert.Equal(expected, await response.Content.ReadAsStringAsync());
        var environment = factory.Services.GetRequiredService<IWebHostEnvironment>();
        Assert.Equal(Path.Combine(RepositoryRoot.Path, "wwwroot"), environment.WebRootPath);
    }

    [Fact]
    public async Task Seed_TopLevelAppsettings_IsTheInventoryTheConsoleShows()
    {
        var seed = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "appsettings.json")))!["Emulator"]!["Seed"]!;
        await using var factory = new ConsoleFactory();
        using var client = factory.CreateClient();

        var hosts = factory.Emulator.Hosts.Select(h => (h.Name, h.CapacityBytes / Sizes.GiB));
        var expectedHosts = seed["Hosts"]!.AsArray().Select(h => ((string)h!["Name"]!, (long)h["MemoryGiB"]!));
        Assert.Equal(expectedHosts.Order(), hosts.Order());
        var expectedVms = seed["Vms"]!.AsArray().Select(v => (string)v!["Name"]!).Order();
        Assert.Equal(expectedVms, factory.Emulator.Vms.Select(v => v.Name).Order());
    }

    [Fact]
    public async Task TeardownTimeout_Configured_IsWhatEveryVmWaits()
    {
        await using var factory = new ConsoleFactory(settings: new Dictionary<string, string?> { ["Emulator:TeardownTimeout"] = "00:00:03" });
        using var client = factory.CreateClient();

        Assert.All(factory.Emulator.Vms, vm => Assert.Equal(TimeSpan.FromSeconds(3), vm.TeardownTimeout));
    }

    [Fact]
    public async Task Seed_ValueChangedInAppsettings_ChangesWhatTheConsoleSeeds()
    {
        var root = Directory.CreateTempSubdirectory("vmconsole-root-");
        try
        {
            var settings = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot.Path, "appsettings.json")))!;
            settings["Emulator"]!["Seed"]!["Hosts"]![0]!["MemoryGiB"] = 48;
            settings["Emulator"]!["Seed"]!["Hosts"]![0]!["Name"] = "lab-host";
            settings["Emulator"]!["Seed"]!["Vms"] = new JsonArray();
            await File.WriteAllTextAsync(Path.Combine(root.FullName, "appsettings.json"), settings.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

            await using var factory = new ConsoleFactory(root.FullName);
            using var client = factory.CreateClient();

            var host = Assert.Single(factory.Emulator.Hosts, h => h.Name == "lab-host");
            Assert.Equal(48 * Sizes.GiB, host.CapacityBytes);
            Assert.Empty(factory.Emulator.Vms);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
