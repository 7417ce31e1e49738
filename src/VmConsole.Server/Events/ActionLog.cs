using Microsoft.Extensions.Options;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Events;

/// <summary>
/// The one action log: every action a user or client tried, allowed or refused, from the API's endpoint filter, the
/// exception handler, the sign-in door and form, the rate limiter and the UI. A line goes on the event path behind the
/// changes the action made, so the recorder commits them first and the hub tells the watchers; a refusal because of
/// the console's state is also pushed to those watching live. Callers without a session are recorded within
/// <see cref="Unauthenticated"/>'s bound, by client address.
/// </summary>
public sealed class ActionLog(ConsoleEventBus bus, TimeProvider time, IOptions<RateLimitOptions> limits) : IActionLog, IHostedService, IDisposable
{
    /// <summary>The audit log's name for a caller without a session.</summary>
    public const string Anonymous = "anonymous";

    private ITimer? _tick;

    /// <summary>The bound on what callers without a session add to the audit log.</summary>
    public UnauthenticatedAudit Unauthenticated { get; } = new(time, limits.Value.UnauthenticatedAuditRowsPerMinute);

    /// <summary>
    /// Records who did what to what and whether it was allowed, and completes once the line is committed, and with it
    /// every change before it on the event path (the domain raises its events on the caller's thread, so the changes
    /// the call made are queued before the line). A call is answered after this, so that what it acknowledges survives
    /// a crash. A caller without a session changed nothing and waits for nothing.
    /// </summary>
    public Task RecordAsync(string user, string action, string target, string? vm, bool allowed, string? code = null, string? reason = null, string? address = null)
    {
        var line = new AuditLine(time.GetUtcNow(), user, action, target, vm, allowed, code, reason);
        if (user == Anonymous)
        {
            foreach (var row in Unauthenticated.Record(address ?? "unknown", line))
            {
                bus.Publish(new ActionRecorded(row, null));
            }

            return Task.CompletedTask;
        }

        var committed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bus.Publish(new ActionRecorded(line, committed));
        return committed.Task;
    }

    public Task AllowedAsync(string user, string action, string target, string? vm) => RecordAsync(user, action, target, vm, allowed: true);

    /// <summary>A refusal by the domain: recorded with its code and reason (a freeze refusal under the VM it names), and pushed live when it is a conflict with the console's state.</summary>
    public Task RefusedAsync(string user, string action, string target, string? vm, DomainException refusal, string? address = null)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        var committed = RecordAsync(user, action, target, (refusal as MigratableSetFrozenException)?.Vm ?? vm, allowed: false, refusal.Code, refusal.Message, address);
        if (refusal.Kind == ErrorKind.Conflict)
        {
            bus.Publish(new ActionRefused(refusal, time.GetUtcNow()));
        }

        return committed;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _tick = time.CreateTimer(_ => PublishAll(Unauthenticated.Tick()), null, UnauthenticatedAudit.Window, UnauthenticatedAudit.Window);
        return Task.CompletedTask;
    }

    /// <summary>Writes the repeats and the summary of the window still open.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _tick?.Dispose();
        PublishAll(Unauthenticated.Tick(force: true));
        return Task.CompletedTask;
    }

    public void Dispose() => _tick?.Dispose();

    private void PublishAll(IReadOnlyList<AuditLine> rows)
    {
        foreach (var row in rows)
        {
            bus.Publish(new ActionRecorded(row, null));
        }
    }
}
