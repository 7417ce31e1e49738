namespace VmConsole.Emulation;

/// <summary>
/// Every machine-readable error code of the console, in one place: the <c>code</c> of a <see cref="DomainException"/>
/// and of the API's problem details (DESIGN.md section 8). Stable: clients and the audit log depend on them.
/// </summary>
public static class ErrorCodes
{
    public const string AddressInUse = "address-in-use";

    public const string BackendExists = "backend-exists";

    public const string BackendInUse = "backend-in-use";

    public const string BackendNotFound = "backend-not-found";

    public const string BadRequest = "bad-request";

    public const string BlockIdTaken = "block-id-taken";

    public const string BlockNotFound = "block-not-found";

    public const string BodyTooLarge = "body-too-large";

    public const string DeleteSelf = "delete-self";

    public const string DestinationNeeded = "destination-needed";

    public const string DeviceExists = "device-exists";

    public const string DeviceNotFound = "device-not-found";

    public const string DuplicateIdstr = "duplicate-idstr";

    public const string ExportFailed = "export-failed";

    public const string FileWithDestinationHost = "file-with-destination-host";
    public const string MultifdNotSupportedByProtocol = "multifd-not-supported-by-protocol";

    public const string Forbidden = "forbidden";

    public const string HostCapacity = "host-capacity";

    public const string HostExists = "host-exists";

    public const string HostNotFound = "host-not-found";

    /// <summary>The host cannot run VMs now (e.g. QEMU is not installed); the message says why.</summary>
    public const string HostUnavailable = "host-unavailable";

    public const string HotplugUnsupported = "hotplug-unsupported";

    public const string IdstrTooLong = "idstr-too-long";

    public const string IllegalPowerTransition = "illegal-power-transition";

    public const string InsufficientStorage = "insufficient-storage";

    public const string InvalidCapacity = "invalid-capacity";

    public const string InvalidCredentials = "invalid-credentials";

    public const string InvalidId = "invalid-id";

    public const string InvalidIdstr = "invalid-idstr";

    public const string InvalidMachine = "invalid-machine";

    public const string InvalidMaxmem = "invalid-maxmem";

    public const string InvalidMemorySize = "invalid-memory-size";

    public const string InvalidName = "invalid-name";

    public const string InvalidPageSize = "invalid-page-size";

    public const string InvalidParameter = "invalid-parameter";

    public const string InvalidPowerAction = "invalid-power-action";

    public const string InvalidRole = "invalid-role";

    public const string InvalidSize = "invalid-size";

    public const string InvalidSlots = "invalid-slots";

    public const string InvalidStream = "invalid-stream";

    public const string InvalidThrottle = "invalid-throttle";

    public const string InvalidUri = "invalid-uri";

    public const string InvalidUsedLength = "invalid-used-length";

    public const string InvalidUserName = "invalid-user-name";

    public const string InvalidWorkingSet = "invalid-working-set";

    public const string InvalidWorkload = "invalid-workload";

    public const string InvalidWorkloadRate = "invalid-workload-rate";

    public const string LastAdmin = "last-admin";

    public const string MachineBlock = "machine-block";

    public const string MaxLengthMismatch = "max-length-mismatch";

    public const string MaxmemExceeded = "maxmem-exceeded";

    public const string MigratableSetFrozen = "migratable-set-frozen";

    public const string MigrationDidNotStop = "migration-did-not-stop";

    public const string MigrationNotFound = "migration-not-found";

    /// <summary>A step only a migration in <c>active</c> takes (migrate-start-postcopy) asked of one in another state.</summary>
    public const string MigrationNotActive = "migration-not-active";

    public const string NoFreeSlot = "no-free-slot";

    public const string NoSlots = "no-slots";

    public const string NoSuchRoute = "no-such-route";

    public const string NotPreSwitchover = "not-pre-switchover";

    public const string NotResizeable = "not-resizeable";

    public const string NotRom = "not-rom";

    public const string NotSignedIn = "not-signed-in";

    /// <summary>A VM's driver cannot do what was asked (e.g. set the workload of a QEMU VM).</summary>
    public const string NotSupportedByDriver = "not-supported-by-driver";

    public const string OutOfRange = "out-of-range";

    /// <summary>Cancel asked of a migration in postcopy: the destination already runs the guest, QEMU cannot go back.</summary>
    public const string PostcopyNotCancellable = "postcopy-not-cancellable";

    /// <summary>migrate-start-postcopy asked of a migration started without the <c>postcopy-ram</c> capability.</summary>
    public const string PostcopyNotEnabled = "postcopy-not-enabled";

    /// <summary>QEMU did not answer a command within its time (e.g. a device_del the guest did not answer).</summary>
    public const string QemuBusy = "qemu-busy";

    public const string RateLimited = "rate-limited";

    public const string SameHost = "same-host";

    public const string SignInThrottled = "sign-in-throttled";

    public const string UnalignedMaxLength = "unaligned-max-length";

    public const string UnalignedUsedLength = "unaligned-used-length";

    public const string UnauthenticatedFlood = "unauthenticated-flood";

    public const string UnmappedAddress = "unmapped-address";

    /// <summary>A device_del was sent and QEMU waits for the guest to release the device.</summary>
    public const string UnplugPending = "unplug-pending";

    public const string UnsupportedCapability = "unsupported-capability";

    public const string UnsupportedMediaType = "unsupported-media-type";

    public const string UsedLengthExceedsMax = "used-length-exceeds-max";

    public const string UserExists = "user-exists";

    public const string UserNotFound = "user-not-found";

    public const string ValidationFailed = "validation-failed";

    public const string VmExists = "vm-exists";

    public const string VmInmigrate = "vm-inmigrate";

    public const string VmMigrating = "vm-migrating";

    public const string VmMoving = "vm-moving";

    public const string VmNotFound = "vm-not-found";

    public const string VmNotRunning = "vm-not-running";

    public const string VmShuttingDown = "vm-shutting-down";

    /// <summary>Resuming a QEMU source left in postmigrate: QEMU 7.2 would run a second copy of the migrated guest.</summary>
    public const string VmPostmigrate = "vm-postmigrate";

    /// <summary>QEMU refused a command or did not answer: its own words in the message.</summary>
    public const string QemuRefused = "qemu-refused";

    /// <summary>The QEMU process of a VM is gone (it exited, or its monitor closed).</summary>
    public const string QemuGone = "qemu-gone";

    /// <summary>QEMU did not start a VM's process (refused its command line, or its monitor did not come up); QEMU's words follow.</summary>
    public const string QemuStartFailed = "qemu-start-failed";

    /// <summary>A VM's RAM blocks do not fit what the destination's driver builds for its machine (a migration between drivers); the first mismatch follows.</summary>
    public const string LayoutMismatch = "layout-mismatch";

    public const string WeakPassword = "weak-password";

    public const string WrongCurrentPassword = "wrong-current-password";
}
