using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using VmConsole.Server.Accounts;
using VmConsole.Server.Api;

namespace VmConsole.Server.Tests;

/// <summary>The API's calls read in the audit log's plain past-tense style (the pages write theirs: their component tests check them).</summary>
public sealed class AuditWordingTests
{
    public static TheoryData<string, string, object?, string> ApiCalls => new()
    {
        { "POST", "/api/auth/login", new LoginRequest("alice", "secret"), "Sign-in failed for alice" },
        { "POST", "/api/vms/{vm}/devices/", new DeviceRequest("pc-dimm", "d1", "mem1"), "Plugged mem1 as pc-dimm d1" },
        { "POST", "/api/migrations/", new StartMigrationRequest("db-1", "host-b", null, null, null, null), "Started migration of db-1 to host-b" },
        { "POST", "/api/vms/{vm}/power", new PowerRequest("shutdown"), "Shut down db-1" },
        { "PUT", "/api/vms/{vm}/workload", new WorkloadRequest("uniform", 2000, null), "Set the workload of db-1 to uniform 2,000 pages/s" },
        { "PUT", "/api/users/{name}/password", null, "Reset the password of olga" },
        { "POST", "/api/nowhere", null, "Called POST /api/nowhere" },
    };

    [Theory]
    [MemberData(nameof(ApiCalls))]
    public void ForApi_KnownRoute_ReadsAsWhatWasDone(string method, string route, object? body, string expected)
    {
        var values = new RouteValueDictionary { ["vm"] = "db-1", ["name"] = "olga" };

        Assert.Equal(expected, AuditWording.ForApi(method, route, values, body is null ? [] : [body], StatusCodes.Status401Unauthorized));
    }

    [Fact]
    public void ForApi_SignInAnswered200_IsSignedInWithoutTheName()
    {
        Assert.Equal("Signed in", AuditWording.ForApi("POST", "/api/auth/login", [], [new LoginRequest("alice", "secret")], StatusCodes.Status200OK));
        Assert.Equal("Sign-in held back for alice", AuditWording.ForApi("POST", "/api/auth/login", [], [new LoginRequest("alice", "secret")], StatusCodes.Status429TooManyRequests));
    }
}
