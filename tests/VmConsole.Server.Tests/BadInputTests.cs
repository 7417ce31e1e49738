using System.Net;
using System.Text;

namespace VmConsole.Server.Tests;

/// <summary>Every changing route, fed malformed JSON, wrong types, negative and huge numbers and odd names: a clear 4xx, never a 500.</summary>
public sealed class BadInputTests : IClassFixture<BadInputTests.Fixture>
{
    private static readonly string LongName = new('x', 10_000);

    private readonly Fixture _fixture;

    public BadInputTests(Fixture fixture) => _fixture = fixture;

    public static TheoryData<string, string> Routes { get; } = new()
    {
        { "POST", "/api/vms" }, { "POST", "/api/vms/db-1/power" }, { "PUT", "/api/vms/db-1/workload" },
        { "POST", "/api/vms/db-1/ramblocks" }, { "PUT", "/api/vms/db-1/ramblocks/4/migratable" }, { "PUT", "/api/vms/db-1/ramblocks/4/size" },
        { "POST", "/api/vms/db-1/devices" }, { "POST", "/api/migrations" }, { "POST", "/api/users" }, { "PUT", "/api/users/admin/role" },
        { "POST", "/api/auth/login" },
    };

    public static IEnumerable<string> Bodies =>
    [
        "", "{", "[]", "null", "42", "\"text\"", "{\"name\": {\"nested\": true}}",
        "{\"name\":5,\"host\":true,\"memoryMiB\":\"lots\",\"action\":[],\"kind\":{},\"backendId\":1,\"sizeBytes\":\"1\",\"migratable\":\"yes\",\"usedLength\":[1],\"driver\":7,\"vm\":false,\"userName\":1,\"role\":2}",
        "{\"name\":\"v\",\"host\":\"host-a\",\"memoryMiB\":-1,\"pagesPerSecond\":-5,\"sizeBytes\":-4096,\"usedLength\":-1,\"maxBandwidth\":-1,\"parameters\":{\"downtimeLimit\":-1}}",
        "{\"memoryMiB\":9223372036854775807,\"sizeBytes\":9223372036854775807,\"usedLength\":9223372036854775807,\"pagesPerSecond\":9223372036854775807,\"workingSetMiB\":9223372036854775807,\"parameters\":{\"maxBandwidth\":9223372036854775807,\"downtimeLimit\":9223372036854775807}}",
        "{\"memoryMiB\":1e400,\"sizeBytes\":18446744073709551616}",
        $"{{\"name\":\"{LongName}\",\"host\":\"{LongName}\",\"backendId\":\"{LongName}\",\"id\":\"{LongName}\",\"memdev\":\"{LongName}\",\"vm\":\"{LongName}\",\"userName\":\"{LongName}\",\"uri\":\"unix:{LongName}\",\"memoryMiB\":64,\"sizeBytes\":4096,\"driver\":\"pc-dimm\",\"role\":\"Viewer\",\"password\":\"x\"}}",
        "{\"name\":\"../../etc\",\"host\":\"host-a\\u0000\",\"backendId\":\"a b\",\"id\":\"\\u00e9\",\"memdev\":\"spare0\\n\",\"vm\":\"db-1\\r\",\"action\":\"START\\u0000\",\"kind\":\"Uniform\\t\",\"uri\":\"tcp:8.8.8.8:4444\",\"memoryMiB\":64,\"sizeBytes\":4096,\"driver\":\"pc-dimm\"}",
    ];

    public static TheoryData<string, string, int> Cases
    {
        get
        {
            var data = new TheoryData<string, string, int>();
            foreach (var (method, path) in Routes.Select(r => ((string)r[0], (string)r[1])))
            {
                for (var i = 0; i < Bodies.Count(); i++)
                {
                    data.Add(method, path, i);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Route_BadBody_IsAClear4xxProblem(string method, string path, int body)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(Bodies.ElementAt(body), Encoding.UTF8, "application/json"),
        };

        var response = await _fixture.Admin.SendAsync(request);

        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("/api/vms/..%2F..%2Fetc")]
    [InlineData("/api/migrations/%F0%9F%92%A5")]
    [InlineData("/api/migrations?status=%00&vm=x")]
    [InlineData("/api/audit?page=-1")]
    [InlineData("/api/audit?page=99999999999")]
    public async Task Get_OddAddress_IsNever500(string path)
    {
        var response = await _fixture.Admin.GetAsync(new Uri(path, UriKind.Relative));

        Assert.InRange((int)response.StatusCode, 200, 499);
        Assert.NotEqual(HttpStatusCode.InternalServerError, response.StatusCode);
    }

    public static TheoryData<string, string> OddAddressesWithoutBody { get; } = new()
    {
        { "DELETE", $"/api/vms/{LongName}" }, { "DELETE", "/api/vms/%FF%FE" }, { "DELETE", "/api/vms/..%2F..%2Fetc" },
        { "DELETE", $"/api/vms/db-1/devices/{LongName}" }, { "DELETE", "/api/vms/db-1/devices/%E2%80%AE%20x" },
        { "DELETE", "/api/vms/db-1/ramblocks/99999999999999999999" }, { "DELETE", "/api/vms/db-1/ramblocks/-1" }, { "DELETE", "/api/vms/db-1/ramblocks/2147483647" },
        { "POST", $"/api/migrations/{LongName}/cancel" }, { "POST", $"/api/migrations/{LongName}/continue" }, { "GET", $"/api/migrations/{LongName}/samples" },
        { "GET", $"/api/migrations?vm={LongName}" }, { "GET", $"/api/audit?vm={LongName}" },
    };

    [Theory]
    [MemberData(nameof(OddAddressesWithoutBody))]
    public async Task Route_OddAddressNoBody_IsAClean4xxProblem(string method, string path)
    {
        var response = await _fixture.Admin.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative)));

        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.False(string.IsNullOrEmpty((string?)problem["code"]));
    }

    public sealed class Fixture : IAsyncLifetime
    {
        public ConsoleFactory Factory { get; } = new();

        public HttpClient Admin { get; private set; } = null!;

        public async Task InitializeAsync() => Admin = await Factory.CreateSignedInClientAsync();

        public async Task DisposeAsync()
        {
            Admin.Dispose();
            await Factory.DisposeAsync();
        }
    }
}
