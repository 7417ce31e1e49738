using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using static VmConsole.TestSupport.QemuLayouts;

namespace VmConsole.Server.Tests;

/// <summary>
/// Issue 15's layouts through the API against the real QEMU 7.2: bytes written through qtest in a QEMU with each layout
/// are read back with <c>GET /api/vms/{vm}/memory</c> after the import, and in a QEMU started the same way after the
/// console's export; the VM's device state goes with it.
/// </summary>
public sealed class QemuLayoutApiTests : SignedInApiTest
{
    public static TheoryData<string> Layouts() => [.. All];

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task ImportThenExport_QemuLayout_BytesReadThroughTheApiAndBackInQemu(string layout)
    {
        (long Address, int Length)[] places;
        string saved;
        var name = "layout-" + layout;
        await using (var source = await QemuProcess.StartAsync(Arguments(layout)))
        {
            places = await PlacesAsync(layout, source);
            await WriteAsync(source, places);
            saved = Path.Combine(source.Directory, "from-qemu.mig");
            await source.QmpAsync("migrate", new { uri = $"exec:cat > {saved}" });
            await source.WaitMigrationAsync();

            var imported = await Admin.PostAsJsonAsync("/api/vms/import", new { name, host = "host-a", path = saved });
            var text = await imported.Content.ReadAsStringAsync();
            Assert.True(imported.StatusCode == HttpStatusCode.Created, text);
            Assert.True(JsonNode.Parse(text)!["import"]!["deviceState"]!["carried"]!.GetValue<bool>(), text);
        }

        foreach (var (address, length) in places)
        {
            Assert.Equal(Pattern(address, length), await Admin.GetByteArrayAsync($"/api/vms/{name}/memory?address={address}&length={length}"));
        }

        var exported = await Admin.PostAsync($"/api/vms/{name}/export", null);
        Assert.Equal(HttpStatusCode.OK, exported.StatusCode);
        await using var back = await QemuProcess.StartAsync([.. Arguments(layout), "-incoming", "defer"]);
        var returned = Path.Combine(back.Directory, "to-qemu.mig");
        await File.WriteAllBytesAsync(returned, await exported.Content.ReadAsByteArrayAsync());
        await back.QmpAsync("migrate-incoming", new { uri = $"exec:cat {returned}" });
        await back.WaitIncomingDoneAsync();
        foreach (var (address, length) in places)
        {
            Assert.Equal(Pattern(address, length), await back.ReadAsync(address, length));
        }
    }
}
