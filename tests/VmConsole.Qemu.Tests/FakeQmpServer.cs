using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace VmConsole.Qemu.Tests;

/// <summary>
/// A monitor socket the test speaks QMP on by hand, line by line, so that a test decides exactly what QEMU "sends" and
/// when: greetings, replies in any order, events between them, split lines, silence, a closed connection.
/// </summary>
public sealed class FakeQmpServer : IAsyncDisposable
{
    public const string Greeting = """{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18"}, "capabilities": ["oob"]}}""";

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly string _directory = QemuProcess.TempDirectory();
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private Socket? _client;
    private StreamReader? _in;
    private NetworkStream? _out;

    public FakeQmpServer()
    {
        Path = System.IO.Path.Combine(_directory, "qmp");
        _listener.Bind(new UnixDomainSocketEndPoint(Path));
        _listener.Listen(2);
    }

    public string Path { get; }

    /// <summary>Takes the client's connection (the console's), greeting it unless told not to.</summary>
    public async Task AcceptAsync(bool greet = true)
    {
        _client = await _listener.AcceptAsync().WaitAsync(Patience);
        _out = new NetworkStream(_client, ownsSocket: false);
        _in = new StreamReader(_out, Encoding.UTF8);
        if (greet)
        {
            await SendAsync(Greeting);
        }
    }

    /// <summary>Accepts, greets, and answers the client's <c>qmp_capabilities</c>.</summary>
    public async Task AcceptAndNegotiateAsync()
    {
        await AcceptAsync();
        var capabilities = await ReadCommandAsync();
        Assert.Equal("qmp_capabilities", capabilities["execute"]!.GetValue<string>());
        await ReplyAsync(capabilities, "{}");
    }

    /// <summary>The next command line the client sent.</summary>
    public async Task<JsonNode> ReadCommandAsync()
    {
        var line = await _in!.ReadLineAsync().WaitAsync(Patience) ?? throw new InvalidOperationException("the client closed the monitor");
        return JsonNode.Parse(line)!;
    }

    /// <summary>Answers <paramref name="command"/> with <paramref name="returnJson"/> as its return value, under its id.</summary>
    public Task ReplyAsync(JsonNode command, string returnJson) =>
        SendAsync($$"""{"return": {{returnJson}}, "id": "{{command["id"]!.GetValue<string>()}}"}""");

    public Task ErrorAsync(JsonNode command, string errorClass, string description) =>
        SendAsync($$"""{"error": {"class": "{{errorClass}}", "desc": "{{description}}"}, "id": "{{command["id"]!.GetValue<string>()}}"}""");

    public Task EventAsync(string name, string dataJson = "{}") =>
        SendAsync($$"""{"timestamp": {"seconds": 1764676800, "microseconds": 250000}, "event": "{{name}}", "data": {{dataJson}}}""");

    /// <summary>Writes <paramref name="line"/> and its newline as one write.</summary>
    public Task SendAsync(string line) => WriteRawAsync(line + "\n");

    /// <summary>Writes bytes exactly as given (part of a line, or several lines at once), flushed.</summary>
    public async Task WriteRawAsync(string text)
    {
        await _out!.WriteAsync(Encoding.UTF8.GetBytes(text));
        await _out.FlushAsync();
    }

    /// <summary>Closes the connection, as QEMU does when it exits.</summary>
    public void Drop() => _client?.Dispose();

    public ValueTask DisposeAsync()
    {
        _client?.Dispose();
        _listener.Dispose();
        Directory.Delete(_directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
