using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace VmConsole.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class MigrationTaskLog : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "LiveDirtyPagesRate",
                table: "ProgressSamples",
                type: "REAL",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "MigrationLog",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    MigrationId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    Kind = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Text = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    Hmp = table.Column<string>(type: "TEXT", nullable: true),
                    Qmp = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_MigrationLog", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_MigrationLog_MigrationId_At",
                table: "MigrationLog",
                columns: new[] { "MigrationId", "At" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "MigrationLog");

            migrationBuilder.DropColumn(
                name: "LiveDirtyPagesRate",
                table: "ProgressSamples");
        }
    }
}
