namespace VmConsole.Server.Tests;

/// <summary>A console of its own per test (seeded inventory, temporary database) and an HTTP client signed in as its admin.</summary>
public abstract class SignedInApiTest : IAsyncLifetime
{
    protected ConsoleFactory Factory { get; } = new();

    /// <summary>Signed in as the bootstrap admin.</summary>
    protected HttpClient Admin { get; private set; } = null!;

    public async Task InitializeAsync() => Admin = await Factory.CreateSignedInClientAsync();

    public async Task DisposeAsync()
    {
        Admin.Dispose();
        await Factory.DisposeAsync();
    }
}
