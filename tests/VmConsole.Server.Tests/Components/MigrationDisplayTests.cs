using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

public sealed class MigrationDisplayTests
{
    [Theory]
    [InlineData("completed", "outgoing", true, "host-b", null, "verified")]
    [InlineData("failed", "outgoing", false, "host-b", "Verification failed: the destination's memory differs.", "Verification failed: the destination's memory differs.")]
    [InlineData("completed", "outgoing", null, "qemu-a", null, "loaded by QEMU")]
    [InlineData("completed", "outgoing", null, null, null, "")]
    [InlineData("completed", "incoming", null, "host-a", null, "")]
    [InlineData("active", "outgoing", null, "qemu-a", null, "")]
    [InlineData("cancelled", "outgoing", null, "qemu-a", "Cancelled by the user.", "Cancelled by the user.")]
    public void Result_SaysTheErrorOrHowTheDestinationWasChecked(string status, string direction, bool? verified, string? destinationHost, string? error, string expected)
    {
        var migration = MigrationViewTests.Completed(downtime: 10) with
        {
            Status = status, Direction = direction, Verified = verified, DestinationHost = destinationHost, ErrorDesc = error,
        };

        Assert.Equal(expected, MigrationDisplay.Result(migration));
    }
}
