using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace VmConsole.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "AuditLog",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    User = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Action = table.Column<string>(type: "TEXT", maxLength: 200, nullable: false),
                    Target = table.Column<string>(type: "TEXT", maxLength: 400, nullable: false),
                    Vm = table.Column<string>(type: "TEXT", nullable: true),
                    Allowed = table.Column<bool>(type: "INTEGER", nullable: false),
                    Code = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    Reason = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_AuditLog", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Hosts",
                columns: table => new
                {
                    Name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    CapacityBytes = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Hosts", x => x.Name);
                });

            migrationBuilder.CreateTable(
                name: "Migrations",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Vm = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    SourceHost = table.Column<string>(type: "TEXT", nullable: false),
                    DestinationHost = table.Column<string>(type: "TEXT", nullable: true),
                    Uri = table.Column<string>(type: "TEXT", nullable: true),
                    Status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    ParametersJson = table.Column<string>(type: "TEXT", nullable: false),
                    CapabilitiesJson = table.Column<string>(type: "TEXT", nullable: false),
                    StartedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    EndedAt = table.Column<long>(type: "INTEGER", nullable: true),
                    StatsJson = table.Column<string>(type: "TEXT", nullable: true),
                    ErrorDesc = table.Column<string>(type: "TEXT", nullable: true),
                    Verified = table.Column<bool>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Migrations", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "Vms",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    Host = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    Machine = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    MemoryBytes = table.Column<long>(type: "INTEGER", nullable: false),
                    Slots = table.Column<int>(type: "INTEGER", nullable: false),
                    MaxMemBytes = table.Column<long>(type: "INTEGER", nullable: false),
                    WorkloadKind = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    PagesPerSecond = table.Column<long>(type: "INTEGER", nullable: false),
                    WorkingSetBytes = table.Column<long>(type: "INTEGER", nullable: false),
                    RunState = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Vms", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "MigrationEvents",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    MigrationId = table.Column<string>(type: "TEXT", nullable: false),
                    Status = table.Column<string>(type: "TEXT", maxLength: 20, nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_MigrationEvents", x => x.Id);
                    table.ForeignKey(
                        name: "FK_MigrationEvents_Migrations_MigrationId",
                        column: x => x.MigrationId,
                        principalTable: "Migrations",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "ProgressSamples",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    MigrationId = table.Column<string>(type: "TEXT", nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    Transferred = table.Column<long>(type: "INTEGER", nullable: false),
                    Remaining = table.Column<long>(type: "INTEGER", nullable: false),
                    DirtyPagesRate = table.Column<double>(type: "REAL", nullable: false),
                    Mbps = table.Column<double>(type: "REAL", nullable: false),
                    DirtySyncCount = table.Column<long>(type: "INTEGER", nullable: false),
                    ExpectedDowntime = table.Column<long>(type: "INTEGER", nullable: true),
                    CpuThrottlePercentage = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ProgressSamples", x => x.Id);
                    table.ForeignKey(
                        name: "FK_ProgressSamples_Migrations_MigrationId",
                        column: x => x.MigrationId,
                        principalTable: "Migrations",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "VmDevices",
                columns: table => new
                {
                    DeviceId = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    VmId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Driver = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Memdev = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_VmDevices", x => new { x.VmId, x.DeviceId });
                    table.ForeignKey(
                        name: "FK_VmDevices_Vms_VmId",
                        column: x => x.VmId,
                        principalTable: "Vms",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "VmRamBlocks",
                columns: table => new
                {
                    Position = table.Column<int>(type: "INTEGER", nullable: false),
                    VmId = table.Column<Guid>(type: "TEXT", nullable: false),
                    IdStr = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    BackendId = table.Column<string>(type: "TEXT", maxLength: 63, nullable: true),
                    UsedLength = table.Column<long>(type: "INTEGER", nullable: false),
                    MaxLength = table.Column<long>(type: "INTEGER", nullable: false),
                    Migratable = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_VmRamBlocks", x => new { x.VmId, x.Position });
                    table.ForeignKey(
                        name: "FK_VmRamBlocks_Vms_VmId",
                        column: x => x.VmId,
                        principalTable: "Vms",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_AuditLog_At",
                table: "AuditLog",
                column: "At");

            migrationBuilder.CreateIndex(
                name: "IX_AuditLog_Vm",
                table: "AuditLog",
                column: "Vm");

            migrationBuilder.CreateIndex(
                name: "IX_MigrationEvents_MigrationId",
                table: "MigrationEvents",
                column: "MigrationId");

            migrationBuilder.CreateIndex(
                name: "IX_Migrations_Status",
                table: "Migrations",
                column: "Status");

            migrationBuilder.CreateIndex(
                name: "IX_Migrations_Vm",
                table: "Migrations",
                column: "Vm");

            migrationBuilder.CreateIndex(
                name: "IX_ProgressSamples_MigrationId_At",
                table: "ProgressSamples",
                columns: new[] { "MigrationId", "At" });

            migrationBuilder.CreateIndex(
                name: "IX_Vms_Name",
                table: "Vms",
                column: "Name",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "AuditLog");

            migrationBuilder.DropTable(
                name: "Hosts");

            migrationBuilder.DropTable(
                name: "MigrationEvents");

            migrationBuilder.DropTable(
                name: "ProgressSamples");

            migrationBuilder.DropTable(
                name: "VmDevices");

            migrationBuilder.DropTable(
                name: "VmRamBlocks");

            migrationBuilder.DropTable(
                name: "Migrations");

            migrationBuilder.DropTable(
                name: "Vms");
        }
    }
}
