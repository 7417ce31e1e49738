using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace VmConsole.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class MigrationDirection : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Direction",
                table: "Migrations",
                type: "TEXT",
                maxLength: 16,
                nullable: false,
                defaultValue: "outgoing");

            // Recorded before the column: a migration from QEMU is the one whose source is the QEMU peer.
            migrationBuilder.Sql("UPDATE Migrations SET Direction = 'incoming' WHERE SourceHost = 'qemu'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Direction",
                table: "Migrations");
        }
    }
}
