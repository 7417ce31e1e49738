namespace VmConsole.Server.Components.Shared;

/// <summary>One line of the migrate dialog's pre-check: passed or not, and why.</summary>
public sealed record PrecheckItem(string Check, bool Passed, string Detail);
