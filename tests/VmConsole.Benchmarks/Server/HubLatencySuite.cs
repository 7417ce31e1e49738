using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VmConsole.Migration.Engine;
using VmConsole.Server.Api;
using VmConsole.Server.Hubs;

namespace VmConsole.Benchmarks.Server;

/// <summary>
/// Macro C: 50 SignalR clients follow one migration that cannot converge (a 2,000 pages/s workload at 1 MiB/s).
/// Latency is the age of the data a client receives: from the engine's Progress event whose numbers a
/// MigrationProgress message carries to that message's arrival at the client, both on this process's Stopwatch.
/// </summary>
public sealed class HubLatencySuite : IBenchmarkSuite
{
    private const string Section = "Macro C";
    private const int Clients = 50;
    private const double TargetP99Ms = 100;

    public string Name => "hub";

    public int Order => 40;

    public async Task<IReadOnlyList<Measurement>> RunAsync(BenchmarkOptions options, CancellationToken cancellationToken)
    {
        var window = options.Quick ? TimeSpan.FromSeconds(5) : TimeSpan.FromSeconds(15);
        var probe = new ProgressProbe();

        // The probe starts before the forwarder (the first hosted service), so its Progress handler runs before the
        // forwarder's: its timestamp is taken before the forwarder reads the numbers and writes to the 50 sockets.
        await using var server = ConsoleServer.Start(options.WorkDirectory, services =>
            services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(sp => new ProbeService(sp.GetRequiredService<MigrationEngine>(), probe))));
        using var admin = await server.CreateSignedInClientAsync(cancellationToken);
        var cookie = await server.SignInCookieAsync(cancellationToken);

        var received = new ConcurrentQueue<Receipt>[Clients];
        var connections = new List<HubConnection>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                var queue = received[i] = new ConcurrentQueue<Receipt>();
                var connection = new HubConnectionBuilder()
                    .WithUrl(new Uri(server.BaseAddress, ConsoleHub.Path), o => o.Headers["Cookie"] = cookie)
                    .Build();
                connection.On<MigrationDto>(nameof(IConsoleClient.MigrationProgress), m =>
                    queue.Enqueue(new Receipt(Stopwatch.GetTimestamp(), m.Id, m.Ram.Transferred, m.TotalTime)));
                connections.Add(connection);
                await connection.StartAsync(cancellationToken);
            }

            // 8 MB/s of dirtying against 1 MiB/s: it cannot converge, so progress keeps coming until it is cancelled.
            (await admin.PutAsJsonAsync("/api/vms/db-1/workload", new { kind = "uniform", pagesPerSecond = 2000 }, cancellationToken)).EnsureSuccessStatusCode();
            using var started = await admin.PostAsJsonAsync("/api/migrations", new { vm = "db-1", destinationHost = "host-b", parameters = new { maxBandwidth = 1L << 20 } }, cancellationToken);
            started.EnsureSuccessStatusCode();
            var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>(cancellationToken))!["id"]!;
            await Task.WhenAll(connections.Select(c => c.InvokeAsync(nameof(ConsoleHub.SubscribeMigration), id, cancellationToken)));

            // A second of warm-up (JIT, first sends), then the window.
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            var from = Stopwatch.GetTimestamp();
            await Task.Delay(window, cancellationToken);
            var to = Stopwatch.GetTimestamp();
            (await admin.PostAsync(new Uri($"/api/migrations/{id}/cancel", UriKind.Relative), null, cancellationToken)).EnsureSuccessStatusCode();
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);

            return Analyse(id, probe.Events(id), received, from, to);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    private static List<Measurement> Analyse(string id, IReadOnlyList<ProgressEvent> events, ConcurrentQueue<Receipt>[] received, long from, long to)
    {
        var seconds = Stopwatch.GetElapsedTime(from, to).TotalSeconds;
        var latencies = new List<double>();
        var unmatched = 0;
        var perClient = new List<double>();
        foreach (var queue in received)
        {
            var inWindow = queue.Where(r => r.Id == id && r.At >= from && r.At < to).ToList();
            perClient.Add(inWindow.Count / seconds);
            foreach (var receipt in inWindow)
            {
                if (Source(events, receipt) is { } source)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(source.At, receipt.At).TotalMilliseconds);
                }
                else
                {
                    unmatched++;
                }
            }
        }

        var engineRate = events.Count(e => e.At >= from && e.At < to) / seconds;
        var note = string.Create(CultureInfo.InvariantCulture,
            $"{Clients} WebSocket clients, {seconds:0} s of a migration that cannot converge; {latencies.Count:N0} messages, max {Max(latencies):0} ms{(unmatched > 0 ? $", {unmatched} unmatched" : "")}");
        if (latencies.Count == 0)
        {
            return [new Measurement(Section, "Hub progress latency (no messages received)", double.NaN, "ms", $"p99 < {TargetP99Ms} ms", Note: note)];
        }

        latencies.Sort();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"hub: latency ms p50 {Percentile(latencies, 0.5):0.0}, p90 {Percentile(latencies, 0.9):0.0}, p95 {Percentile(latencies, 0.95):0.0}, p99 {Percentile(latencies, 0.99):0.0}, max {latencies[^1]:0.0}; {events.Count} engine events in all"));
        var p50 = Percentile(latencies, 0.50);
        var p99 = Percentile(latencies, 0.99);
        return
        [
            new Measurement(Section, $"Hub progress latency p50 (engine event to client, {Clients} clients)", p50, "ms", Note: note),
            new Measurement(Section, $"Hub progress latency p99 (engine event to client, {Clients} clients)", p99, "ms", $"< {TargetP99Ms:0} ms", p99 < TargetP99Ms),
            new Measurement(Section, "Hub progress updates per client (mean)", perClient.Average(), "updates/s",
                Note: string.Create(CultureInfo.InvariantCulture, $"the engine raised {engineRate:0.#} progress events/s (coalesced to at most 10/s)")),
        ];
    }

    /// <summary>
    /// The engine event whose numbers <paramref name="receipt"/> carries: the latest one raised before the receipt whose
    /// transferred bytes and total time are not ahead of the message's (the forwarder reads them just after the probe).
    /// </summary>
    private static ProgressEvent? Source(IReadOnlyList<ProgressEvent> events, Receipt receipt)
    {
        for (var i = events.Count - 1; i >= 0; i--)
        {
            var e = events[i];
            if (e.At <= receipt.At && e.Transferred <= receipt.Transferred && e.TotalTime <= receipt.TotalTime)
            {
                return e;
            }
        }

        return null;
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static double Max(List<double> values) => values.Count == 0 ? double.NaN : values.Max();

    private sealed record Receipt(long At, string Id, long Transferred, long TotalTime);

    private sealed record ProgressEvent(long At, string Id, long Transferred, long TotalTime);

    /// <summary>Every engine Progress event: when it was raised and the numbers of that moment.</summary>
    private sealed class ProgressProbe
    {
        // Appended by the engine's threads (the worker and its trailing-report timer) under the lock; read after the run.
        private readonly List<ProgressEvent> _events = [];

        public void Record(VmConsole.Migration.Model.IMigration migration)
        {
            var at = Stopwatch.GetTimestamp();
            var stats = migration.GetStats();
            lock (_events)
            {
                _events.Add(new ProgressEvent(at, migration.Id, stats.Transferred, stats.TotalTime));
            }
        }

        public IReadOnlyList<ProgressEvent> Events(string id)
        {
            lock (_events)
            {
                return [.. _events.Where(e => e.Id == id)];
            }
        }
    }

    private sealed class ProbeService(MigrationEngine engine, ProgressProbe probe) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            engine.Registry.Started += OnStarted;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            engine.Registry.Started -= OnStarted;
            return Task.CompletedTask;
        }

        private void OnStarted(VmConsole.Migration.Model.IMigration migration) => migration.Progress += probe.Record;
    }
}
