using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace VmConsole.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class VmLayouts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "MainRamBackend",
                table: "Vms",
                type: "TEXT",
                maxLength: 63,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "VmNumaNodes",
                columns: table => new
                {
                    Node = table.Column<int>(type: "INTEGER", nullable: false),
                    VmId = table.Column<Guid>(type: "TEXT", nullable: false),
                    Memdev = table.Column<string>(type: "TEXT", maxLength: 63, nullable: false),
                    SizeBytes = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_VmNumaNodes", x => new { x.VmId, x.Node });
                    table.ForeignKey(
                        name: "FK_VmNumaNodes_Vms_VmId",
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
                name: "VmNumaNodes");

            migrationBuilder.DropColumn(
                name: "MainRamBackend",
                table: "Vms");
        }
    }
}
