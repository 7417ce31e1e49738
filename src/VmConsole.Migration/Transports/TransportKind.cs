namespace VmConsole.Migration.Transports;

public enum TransportKind
{
    Unix,
    Tcp,
    File,
}
