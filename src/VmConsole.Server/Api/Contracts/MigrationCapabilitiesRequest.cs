namespace VmConsole.Server.Api;

public sealed record MigrationCapabilitiesRequest(bool? AutoConverge, bool? PostcopyRam, bool? PauseBeforeSwitchover, bool? Multifd, bool? Xbzrle, bool? Events);
