using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace VmConsole.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class DeviceState : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "DeviceStateFields",
                table: "Vms",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "VmDeviceSections",
                columns: table => new
                {
                    Position = table.Column<int>(type: "INTEGER", nullable: false),
                    VmId = table.Column<Guid>(type: "TEXT", nullable: false),
                    IdStr = table.Column<string>(type: "TEXT", maxLength: 255, nullable: false),
                    InstanceId = table.Column<long>(type: "INTEGER", nullable: false),
                    VersionId = table.Column<long>(type: "INTEGER", nullable: false),
                    State = table.Column<byte[]>(type: "BLOB", nullable: false),
                    Description = table.Column<string>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_VmDeviceSections", x => new { x.VmId, x.Position });
                    table.ForeignKey(
                        name: "FK_VmDeviceSections_Vms_VmId",
                        column: x => x.VmId,
                        principalTable: "Vms",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "VmDeviceSections");

            migrationBuilder.DropColumn(
                name: "DeviceStateFields",
                table: "Vms");
        }
    }
}
