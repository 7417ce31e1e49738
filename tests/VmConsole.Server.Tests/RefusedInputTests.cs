using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;

namespace VmConsole.Server.Tests;

/// <summary>
/// Input that used to be answered with a 500, or accepted although it is wrong: each is a 4xx (or 507) problem with a
/// <c>code</c> and a clear detail, every 400 with <c>errors</c>, and each refusal is in the audit log with its code and reason.
/// </summary>
public sealed class RefusedInputTests : SignedInApiTest
{
    [Fact]
    public async Task Export_ToADirectory_Is400PathAndAudited()
    {
        var response = await Admin.PostAsJsonAsync("/api/vms/tiny-1/export", new { path = "/tmp" });

        var problem = await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation-failed");
        var message = problem["errors"]!["path"]![0]!.GetValue<string>();
        Assert.Contains("'/tmp' is a directory", message, StringComparison.Ordinal);
        Assert.Contains(message, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        await AssertAuditedAsync("tiny-1", "Exported tiny-1 for QEMU", "validation-failed", problem["detail"]!.GetValue<string>());
        Assert.True(Directory.Exists("/tmp"));
    }

    [Fact]
    public async Task Export_ToAFullDisk_Is507InsufficientStorageAuditedAndTheVmRunsOn()
    {
        Assert.True(File.Exists("/dev/full"), "this test writes to /dev/full, which every write fails with ENOSPC");

        var response = await Admin.PostAsJsonAsync("/api/vms/tiny-1/export", new { path = "/dev/full" });

        var problem = await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.InsufficientStorage, "insufficient-storage");
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("'/dev/full'", detail, StringComparison.Ordinal);
        Assert.Contains("No space left on device", detail, StringComparison.Ordinal);
        await AssertAuditedAsync("tiny-1", "Exported tiny-1 for QEMU", "insufficient-storage", detail);
        Assert.Equal("running", (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/tiny-1"))!["runState"]!.GetValue<string>());
        Assert.True(File.Exists("/dev/full"), "a failed export removes only a file it created");
    }

    public static TheoryData<string, string> UnfinishedMultipart { get; } = new()
    {
        // The file's bytes, then the end of the body without "--boundary--".
        { "in the file", "--b1\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nhalf-1\r\n--b1\r\nContent-Disposition: form-data; name=\"host\"\r\n\r\nhost-a\r\n--b1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"vm.mig\"\r\nContent-Type: application/octet-stream\r\n\r\nQEVM\0\0\0\u0003" },
        // The body ends inside the first field.
        { "in a field", "--b1\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nhalf-1" },
    };

    [Theory]
    [MemberData(nameof(UnfinishedMultipart))]
    public async Task Import_MultipartWithoutClosingBoundary_Is400AndAudited(string where, string body)
    {
        var content = new ByteArrayContent(Encoding.Latin1.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data; boundary=b1");

        var response = await Admin.PostAsync("/api/vms/import", content);

        var problem = await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "bad-request");
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("closing boundary", detail, StringComparison.Ordinal);
        Assert.NotNull(problem["errors"]);
        Assert.False(Factory.Emulator.TryGetVm("half-1", out _), where);
        var audited = await WaitForAuditAsync(e => e["action"]!.GetValue<string>().StartsWith("Imported VM ", StringComparison.Ordinal) && e["code"]?.GetValue<string>() == "bad-request");
        Assert.False(audited["allowed"]!.GetValue<bool>());
        Assert.Equal(detail, audited["reason"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{\"name\":\"m1\",\"host\":\"host-a\",\"memoryMiB\":16}")]
    [InlineData("{\"name\":\"m1\",\"host\":\"host-a\",\"machine\":null,\"memoryMiB\":16}")]
    [InlineData("{\"name\":\"m1\",\"host\":\"host-a\",\"machine\":\"\",\"memoryMiB\":16}")]
    public async Task CreateVm_WithoutMachine_Is400MachineRequiredAndNoVm(string body)
    {
        var response = await Admin.PostAsync("/api/vms", Json(body));

        var problem = await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation-failed");
        Assert.Equal("'machine' is required.", problem["errors"]!["machine"]![0]!.GetValue<string>());
        Assert.False(Factory.Emulator.TryGetVm("m1", out _));
    }

    /// <summary>With both, a uri meant for a QEMU peer would become a listener of the console's own: one or the other.</summary>
    [Fact]
    public async Task StartMigration_DestinationHostAndUri_Is400OnUriAndNothingStarts()
    {
        var response = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "tiny-1", destinationHost = "host-a", uri = "tcp:127.0.0.1:4444" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal("validation-failed", problem["code"]!.GetValue<string>());
        Assert.Contains("not both", problem["errors"]!["uri"]![0]!.GetValue<string>());
        Assert.Empty((await Admin.GetFromJsonAsync<JsonArray>("/api/migrations?vm=tiny-1"))!);
    }

    public static TheoryData<string, string, byte[]> InvalidUtf8Bodies { get; } = new()
    {
        // No request record has these members; the bytes FF FE and C3 28 are no UTF-8 at all.
        { "POST", "/api/vms", [.. "{\"name\":\"u1\",\"host\":\"host-a\",\"machine\":\"microvm\",\"memoryMiB\":16,\"junk\":\""u8, 0xFF, 0xFE, 0xC3, 0x28, .. "\"}"u8] },
        { "POST", "/api/vms", [.. "{\"name\":\"u1\",\"host\":\"host-a\",\"machine\":\"microvm\",\"memoryMiB\":16,\""u8, 0xFF, 0xFE, .. "\":1}"u8] },
        { "PUT", "/api/vms/tiny-1/workload", [.. "{\"kind\":\"idle\",\"junk\":{\"deeper\":[\""u8, 0xC3, 0x28, .. "\"]}}"u8] },
    };

    [Theory]
    [MemberData(nameof(InvalidUtf8Bodies))]
    public async Task Route_InvalidUtf8InAnUnknownMember_Is400BodyAuditedAndNothingChanges(string method, string path, byte[] body)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };

        var response = await Admin.SendAsync(request);

        var problem = await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.BadRequest, "bad-request");
        Assert.Contains("UTF-8", problem["errors"]!["$"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(Factory.Emulator.TryGetVm("u1", out _));
        Assert.Equal("sweep", (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/tiny-1"))!["workload"]!["kind"]!.GetValue<string>());
        var audited = await WaitForAuditAsync(e => e["target"]!.GetValue<string>() == path && e["code"]?.GetValue<string>() == "bad-request");
        Assert.False(audited["allowed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Export_DuringAMigration_Is409SayingWhyAndWhatToDoAndLeavesTheVmRunning()
    {
        var started = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "tiny-1", destinationHost = "host-a", capabilities = new { pauseBeforeSwitchover = true } });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var id = (await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        var engine = Factory.Services.GetRequiredService<MigrationEngine>();
        try
        {
            var download = await Admin.PostAsync("/api/vms/tiny-1/export", null);
            var toPath = await Admin.PostAsJsonAsync("/api/vms/tiny-1/export", new { path = Path.Combine(Path.GetTempPath(), $"vmconsole-export-{Guid.NewGuid():N}.mig") });

            foreach (var response in new[] { download, toPath })
            {
                var problem = await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.Conflict, "vm-migrating");
                var detail = problem["detail"]!.GetValue<string>();
                Assert.Contains($"migration {id}", detail, StringComparison.Ordinal);
                Assert.Contains("paused", detail, StringComparison.Ordinal);
                Assert.Contains("once the migration has ended", detail, StringComparison.Ordinal);
            }

            // Not paused by the refused export: running, or finish-migrate once the migration has stopped it for switchover.
            Assert.Contains((await Admin.GetFromJsonAsync<JsonObject>("/api/vms/tiny-1"))!["runState"]!.GetValue<string>(), new[] { "running", "finish-migrate" });
            Assert.False(engine.Registry.Get(id).Status.IsFinal());
            await AssertAuditedAsync("tiny-1", "Exported tiny-1 for QEMU", "vm-migrating", null);
        }
        finally
        {
            await Admin.PostAsync($"/api/migrations/{id}/cancel", null);
            await engine.Registry.Get(id).Finished.WaitAsync(TimeSpan.FromSeconds(30));
        }

        // Once it has ended, the same export is taken.
        Assert.Equal(HttpStatusCode.OK, (await Admin.PostAsync("/api/vms/tiny-1/export", null)).StatusCode);
    }

    private async Task AssertAuditedAsync(string vm, string action, string code, string? reason)
    {
        var entry = await ApiTestMemory.WaitForAuditAsync(Admin, vm, e => e["action"]!.GetValue<string>() == action && e["code"]?.GetValue<string>() == code);
        Assert.False(entry["allowed"]!.GetValue<bool>());
        Assert.False(string.IsNullOrWhiteSpace(entry["reason"]?.GetValue<string>()));
        if (reason is not null)
        {
            Assert.Equal(reason, entry["reason"]!.GetValue<string>());
        }
    }

    /// <summary>Waits (bounded) for an entry of the whole audit log, whatever VM it names (a refused import may name none).</summary>
    private async Task<JsonNode> WaitForAuditAsync(Func<JsonNode, bool> match)
    {
        JsonArray entries = [];
        JsonNode? found = null;
        await Eventually.UntilAsync(
            async () =>
            {
                entries = (await Admin.GetFromJsonAsync<JsonArray>("/api/audit"))!;
                found = entries.FirstOrDefault(e => match(e!));
                return found is not null;
            },
            TimeSpan.FromSeconds(10),
            () => $"no such audit entry: {entries.ToJsonString()}");
        return found!;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
