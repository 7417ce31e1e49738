namespace VmConsole.Server.Components.Shared;

/// <summary>
/// What the migrate dialog can say before a migration starts, from the chosen bandwidth and downtime limit: how long
/// the first pass takes, and whether precopy can converge.
/// </summary>
/// <param name="Text">The estimate in a sentence.</param>
/// <param name="WillNotConverge">Whether the estimate says the migration will not converge as set up (the dialog warns and asks before starting).</param>
/// <param name="FirstPass">How long sending the migratable RAM once takes at the chosen bandwidth; null when the bandwidth is unlimited.</param>
/// <param name="FirstPassBytes">The migratable RAM the first pass sends.</param>
public sealed record ConvergenceEstimate(string Text, bool WillNotConverge, TimeSpan? FirstPass, long FirstPassBytes)
{
    /// <summary>The first pass as a person reads it ("The first pass sends 64 MiB in about 0.5 s.").</summary>
    public string FirstPassText => FirstPass is { } duration
        ? $"The first pass sends {Display.Bytes(FirstPassBytes)} in about {Display.Duration(duration)}."
        : $"The first pass sends {Display.Bytes(FirstPassBytes)} as fast as the link allows (no bandwidth limit).";
}
