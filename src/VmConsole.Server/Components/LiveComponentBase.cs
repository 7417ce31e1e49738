using Microsoft.AspNetCore.Components;

namespace VmConsole.Server.Components;

/// <summary>
/// A component that follows domain objects for its own view: re-render requests arriving on any thread are coalesced
/// to at most one render per <see cref="RenderInterval"/> (the one coalescing helper of the UI), run on the renderer's
/// context after <see cref="OnLiveChangeAsync"/> (a page that reloads something does it there), and failures go to
/// <see cref="ComponentBase.DispatchExceptionAsync"/>. Subclasses subscribe in OnInitialized and unsubscribe in
/// <see cref="OnDispose"/>.
/// </summary>
public abstract class LiveComponentBase : ComponentBase, IDisposable
{
    public static readonly TimeSpan MinRenderInterval = TimeSpan.FromMilliseconds(100);

    // Written from any thread with Interlocked: 1 while a render is scheduled.
    private int _scheduled;
    private long _lastRender;
    private volatile bool _disposed;
    private int _liveRenders;

    [Inject]
    private TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>How many coalesced renders have run (for tests that hold the clock and must know what the page has seen).</summary>
    internal int LiveRenders => Volatile.Read(ref _liveRenders);

    /// <summary>At most one render per this long, however often one is asked.</summary>
    protected virtual TimeSpan RenderInterval => MinRenderInterval;

    /// <summary>Runs on the renderer's context before each coalesced render: reload what the render shows.</summary>
    protected virtual Task OnLiveChangeAsync() => Task.CompletedTask;

    /// <summary>Renders soon, at most once per interval however often it is asked.</summary>
    protected void RequestRender()
    {
        if (_disposed || Interlocked.Exchange(ref _scheduled, 1) == 1)
        {
            return;
        }

        _ = RenderSoonAsync();
    }

    private async Task RenderSoonAsync()
    {
        try
        {
            var wait = RenderInterval - Time.GetElapsedTime(Interlocked.Read(ref _lastRender));
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, Time);
            }

            if (!_disposed)
            {
                await InvokeAsync(async () =>
                {
                    // Stamp, then accept new requests, then render: a request before the render is covered by it
                    // (it reads the latest state), and one after it waits a full interval from this stamp.
                    Interlocked.Exchange(ref _lastRender, Time.GetTimestamp());
                    Volatile.Write(ref _scheduled, 0);
                    await OnLiveChangeAsync();
                    StateHasChanged();
                    Interlocked.Increment(ref _liveRenders);
                });
            }
            else
            {
                Volatile.Write(ref _scheduled, 0);
            }
        }
        catch (Exception ex) when (!_disposed)
        {
            Volatile.Write(ref _scheduled, 0);
            await DispatchExceptionAsync(ex);
        }
    }

    /// <summary>Unsubscribe here.</summary>
    protected abstract void OnDispose();

    public void Dispose()
    {
        _disposed = true;
        OnDispose();
        GC.SuppressFinalize(this);
    }
}
