using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Qemu;
using VmConsole.Migration.Wire;
using VmConsole.Server.Accounts;
using VmConsole.Server.Domain;

namespace VmConsole.Server.Api;

/// <summary>Interoperation with QEMU 7.2: import and export of stream files, and live migrations from a QEMU process.</summary>
internal static class QemuApi
{
    /// <summary>The largest import upload: a stream of an 8 GiB guest whose pages are all non-zero, and then some.</summary>
    public const long MaxImportBytes = 8L << 30;

    public static void MapQemuApi(this IEndpointRouteBuilder api)
    {
        var vms = api.MapGroup("/vms").WithTags("QEMU interop");
        vms.MapPost("/import", ImportAsync)
            .RequireAuthorization(Roles.CanAdminister)
            .Accepts<ImportVmRequest>("application/json", "multipart/form-data")
            .Produces<ImportedVmDto>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Create a VM from a QEMU migration stream (multipart name, host, then file; or JSON {name, host, path} of a server file)")
            .WithDescription("The stream is what QEMU 7.2 writes with migrate to exec:cat > FILE. Uploads up to 8 GiB are read as they come, never buffered whole. A stream that does not fit is a 400 with code invalid-stream and QEMU's words in detail.");
        vms.MapPost("/{vm}/export", ExportAsync)
            .RequireAuthorization(Roles.CanOperate)
            // No Accepts metadata: routing would then refuse the download's request, which has no body and no content type.
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .Produces<ExportSummaryDto>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Write the VM as a QEMU 7.2 stream: a download <vm>.qemu-stream without a body; with JSON {path} (Admin) into that server file")
            .WithDescription("QEMU loads it with -incoming defer and migrate-incoming exec:cat FILE. A running VM is paused while it is written. Optional JSON body {path} (ExportVmRequest). "
                + "A VM that came from QEMU carries its CPU and device state back (QEMU goes on where the guest stopped); a VM made here has none, so QEMU boots it from reset: deviceState in the summary says which.");
        vms.MapGet("/{vm}/device-state", DeviceState)
            .RequireAuthorization()
            .Produces<DeviceStateDto>()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("The CPU and device state the VM carries for QEMU: the sections QEMU sent with it (name, instance, version, bytes), or none")
            .WithDescription("Kept verbatim from the stream or live migration the VM came from and sent back unchanged, in QEMU's order, by export and migration to QEMU. carried false: QEMU boots the VM from reset.");
        vms.MapPost("/incoming", Incoming)
            .RequireAuthorization(Roles.CanOperate)
            .Produces<MigrationDto>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .WithSummary("Create a VM in inmigrate listening on uri (unix:PATH needs Admin; tcp:127.0.0.1:PORT) for QEMU's migrate; 202 with the migration")
            .WithDescription("The migration is listed and read at /api/migrations/{id} (sourceHost \"qemu\") and cancelled like any other. "
                + "capabilities and parameters are the objects of POST /api/migrations (capabilities also take xIgnoreShared), set here before the source connects as on a QEMU destination: "
                + "multifd with parameters.multifdChannels and parameters.multifdCompression (the source's own; QEMU never sends them), postcopyRam, xIgnoreShared. A bad value is a 400 naming the field.");
    }

    private static async Task<IResult> ImportAsync(HttpContext http, QemuStreamImport import, MigrationEngine engine, CancellationToken cancellationToken)
    {
        if (http.Request.HasJsonContentType())
        {
            var request = await ReadJsonAsync<ImportVmRequest>(http.Request, cancellationToken);
            var errors = new RequestErrors();
            var name = errors.Required(request?.Name, "name");
            var host = errors.Required(request?.Host, "host");
            var path = errors.Required(request?.Path, "path");
            if (path.Length > 0 && !Path.IsPathFullyQualified(path))
            {
                errors.Add("path", $"'{Names.Shorten(path)}' is not an absolute path on the server.");
            }
            else if (path.Length > 0 && !File.Exists(path))
            {
                errors.Add("path", $"There is no file '{Names.Shorten(path)}' on the server.");
            }

            if (errors.Any)
            {
                return errors.ToResult();
            }

            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            return await RunImportAsync(http, import, engine, name, host, file, "path", cancellationToken);
        }

        if (!http.Request.HasFormContentType || MediaTypeHeaderValue.Parse(http.Request.ContentType).Boundary is not { Length: > 0 } boundary)
        {
            return ApiProblems.Problem(
                StatusCodes.Status415UnsupportedMediaType,
                ErrorCodes.UnsupportedMediaType,
                "Send multipart/form-data with the fields name, host and file (in that order), or JSON {name, host, path}.");
        }

        // Only this route takes a body that large; it is read section by section and the file goes straight to the importer.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxImportBytes;
        }

        var reader = new MultipartReader(HeaderUtilities.RemoveQuotes(boundary).Value!, http.Request.Body);
        string? formName = null, formHost = null;
        while (await NextSectionAsync(reader, cancellationToken) is { } section)
        {
            if (section.GetContentDispositionHeader() is not { } disposition)
            {
                continue;
            }

            var field = HeaderUtilities.RemoveQuotes(disposition.Name).Value;
            if (disposition.IsFileDisposition() || field == "file")
            {
                var errors = new RequestErrors();
                var name = errors.Required(formName, "name");
                var host = errors.Required(formHost, "host");
                if (errors.Any)
                {
                    errors.Add("file", "Send the fields 'name' and 'host' before 'file': the file is imported as it arrives.");
                    return errors.ToResult();
                }

                return await RunImportAsync(http, import, engine, name, host, section.Body, "file", cancellationToken);
            }

            string value;
            try
            {
                value = await new StreamReader(section.Body).ReadToEndAsync(cancellationToken);
            }
            catch (IOException ex)
            {
                throw UnfinishedMultipart(ex);
            }

            if (field == "name")
            {
                formName = value;
            }
            else if (field == "host")
            {
                formHost = value;
            }
        }

        var missing = new RequestErrors();
        missing.Required(formName, "name");
        missing.Required(formHost, "host");
        missing.Add("file", "'file' is required.");
        return missing.ToResult();
    }

    private static async Task<IResult> RunImportAsync(
        HttpContext http, QemuStreamImport import, MigrationEngine engine, string name, string host, Stream input, string field, CancellationToken cancellationToken)
    {
        AuditAs(http, name);
        try
        {
            var result = await import.ImportAsync(name, host, input, progress: null, cancellationToken);
            return TypedResults.Created($"/api/vms/{result.Vm.Name}", new ImportedVmDto(result.Vm.ToDto(engine.Registry), result.ToDto()));
        }
        catch (MigrationStreamException ex) when (field == "file" && ex.InnerException is IOException cut)
        {
            // The upload itself broke (no closing boundary, a client gone), not the stream in it.
            throw UnfinishedMultipart(cut);
        }
        catch (MigrationStreamException ex)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "The stream cannot be imported",
                detail: ex.Message,
                extensions: new Dictionary<string, object?>
                {
                    ["code"] = ErrorCodes.InvalidStream,
                    ["errors"] = new Dictionary<string, string[]> { [field] = [ex.Message] },
                });
        }
    }

    private static async Task<IResult> ExportAsync(string vm, HttpContext http, Emulator emulator, VmConsole.Emulation.Drivers.VmInventory inventory, CancellationToken cancellationToken)
    {
        var target = inventory.RequireEmulated(emulator, vm, VmConsole.Emulation.Drivers.VmFeatures.Export, "Export to a QEMU stream file");
        if (http.Request.HasJsonContentType() && http.Request.ContentLength != 0)
        {
            if (!http.User.CanAdminister())
            {
                return ApiProblems.Problem(StatusCodes.Status403Forbidden, ErrorCodes.Forbidden, "Exporting to a path writes a file on the server: that needs the Admin role. Without a body the stream is a download.");
            }

            var request = await ReadJsonAsync<ExportVmRequest>(http.Request, cancellationToken);
            var errors = new RequestErrors();
            var path = errors.Required(request?.Path, "path");
            if (path.Length > 0 && (!Path.IsPathFullyQualified(path) || !Directory.Exists(Path.GetDirectoryName(path))))
            {
                errors.Add("path", $"'{Names.Shorten(path)}' is not an absolute path in an existing directory on the server.");
            }
            else if (path.Length > 0 && Directory.Exists(path))
            {
                errors.Add("path", $"'{Names.Shorten(path)}' is a directory: give the path of a file to write, such as '{Names.Shorten(Path.Combine(path, target.Name + ".qemu-stream"))}'.");
            }

            if (errors.Any)
            {
                return errors.ToResult();
            }

            QemuStreamExport.CheckExportable(target);
            return await ExportToFileAsync(target, path, cancellationToken);
        }

        // Refused before the first byte, so that a refusal is a problem, not a broken download.
        QemuStreamExport.CheckExportable(target);
        http.Response.ContentType = "application/octet-stream";
        http.Response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileNameStar = $"{target.Name}.qemu-stream", FileName = $"{target.Name}.qemu-stream" }.ToString();
        await QemuStreamExport.ExportAsync(target, http.Response.Body, cancellationToken);
        return Results.Empty;
    }

    private static DeviceStateDto DeviceState(string vm, Emulator emulator, VmConsole.Emulation.Drivers.VmInventory inventory) =>
        inventory.RequireEmulated(emulator, vm, VmConsole.Emulation.Drivers.VmFeatures.Export, "Device state kept for QEMU").DeviceState.ToDto();

    /// <summary>
    /// Writes the stream into a server file. A file that cannot be opened is a 400 on <c>path</c>; a disk that fills up is
    /// a 507; either way a file the export created is removed (one that was there, such as a device, is left alone).
    /// </summary>
    private static async Task<IResult> ExportToFileAsync(Vm target, string path, CancellationToken cancellationToken)
    {
        var created = !File.Exists(path);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var errors = new RequestErrors();
            errors.Add("path", $"'{Names.Shorten(path)}' cannot be written: {ex.Message}");
            return errors.ToResult();
        }

        QemuExportResult result;
        try
        {
            await using (file)
            {
                result = await QemuStreamExport.ExportAsync(target, file, cancellationToken);
            }
        }
        catch (IOException ex)
        {
            if (created)
            {
                File.Delete(path);
            }

            return IsDiskFull(ex)
                ? ApiProblems.Problem(
                    StatusCodes.Status507InsufficientStorage,
                    ErrorCodes.InsufficientStorage,
                    $"Exporting VM '{target.Name}' to '{Names.Shorten(path)}' ran out of space ({ex.Message}); no file was kept. Free space there or choose another path.")
                : ApiProblems.Problem(
                    StatusCodes.Status500InternalServerError,
                    ErrorCodes.ExportFailed,
                    $"Writing VM '{target.Name}' to '{Names.Shorten(path)}' failed: {ex.Message}");
        }

        return TypedResults.Ok(new ExportSummaryDto(
            target.Name, path, result.MachineType, [.. result.Blocks.Select(b => new StreamBlockDto(b.IdStr, b.UsedLength))],
            result.BytesWritten, result.NormalPages, result.ZeroPages, result.DeviceState.ToDto()));
    }

    /// <summary>ENOSPC (its errno is the HResult on Linux) or Windows' ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL.</summary>
    private static bool IsDiskFull(IOException ex) => ex.HResult is 28 or unchecked((int)0x80070070) or unchecked((int)0x80070027);

    private static IResult Incoming(IncomingMigrationRequest request, MigrationEngine engine, HttpContext http)
    {
        var errors = new RequestErrors();
        var name = errors.Required(request.Name, "name");
        var host = errors.Required(request.Host, "host");
        var uri = errors.Required(request.Uri, "uri");
        var parameters = request.Parameters.ToParameters(errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        if (ApiProblems.ServerPathNeedsAdmin(uri, http.User, "Listening on a unix socket") is { } forbidden)
        {
            return forbidden;
        }

        AuditAs(http, name);
        // Checked (400 on parameters.* or capabilities.*) before anything listens.
        var capabilities = request.Capabilities.ToIncoming(parameters);
        var migration = engine.ReceiveFromQemu(name, host, uri, capabilities: capabilities);
        return TypedResults.Accepted($"/api/migrations/{migration.Id}", migration.ToDto());
    }

    /// <summary>The next multipart section; a body that ends before its closing boundary is a 400, not a 500.</summary>
    private static async Task<MultipartSection?> NextSectionAsync(MultipartReader reader, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.ReadNextSectionAsync(cancellationToken);
        }
        catch (IOException ex)
        {
            throw UnfinishedMultipart(ex);
        }
    }

    /// <summary>Answered by the exception handler as a 400 <c>bad-request</c> on the body, and audited there.</summary>
    private static BadHttpRequestException UnfinishedMultipart(IOException cause) => new(
        "The multipart body ended before its closing boundary (--boundary--): the upload was cut short. Send the whole form again.",
        StatusCodes.Status400BadRequest,
        cause);

    /// <summary>The audit log files a call under the route's <c>{vm}</c>; these routes name the VM they create in the body instead.</summary>
    private static void AuditAs(HttpContext http, string vm) => http.Request.RouteValues["vm"] = vm;

    /// <summary>A JSON body read by hand (the route also takes other media types); unreadable JSON is a 400 like a bound body's.</summary>
    private static async Task<T?> ReadJsonAsync<T>(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await request.ReadFromJsonAsync<T>(cancellationToken);
        }
        catch (JsonException ex)
        {
            throw new BadHttpRequestException("The body is not valid JSON.", StatusCodes.Status400BadRequest, ex);
        }
    }
}
