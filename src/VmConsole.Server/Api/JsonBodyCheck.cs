using System.Text.Unicode;

namespace VmConsole.Server.Api;

/// <summary>
/// JSON text is UTF-8 (RFC 8259), all of it. The JSON reader decodes only the members a request record has, so
/// bytes that are no UTF-8 in any other member (or in a member's name) would pass unseen: this check reads a JSON
/// body of an API request once, before it is bound, and refuses it whole as a 400 on the body.
/// </summary>
internal static class JsonBodyCheck
{
    public const string NotUtf8 = "The body is not valid UTF-8: JSON text must be UTF-8 throughout (RFC 8259), in members this route ignores too.";

    /// <summary>After routing and authorization, so that the refusal is audited against its route and only for callers allowed to call it.</summary>
    public static IApplicationBuilder UseJsonBodyCheck(this IApplicationBuilder app) =>
        app.UseWhen(
            context => context.Request.Path.StartsWithSegments("/api") && context.Request.HasJsonContentType() && context.Request.ContentLength != 0,
            api => api.Use(async (context, next) =>
            {
                await CheckAsync(context.Request, context.RequestAborted);
                await next(context);
            }));

    private static async Task CheckAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        request.EnableBuffering();
        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, cancellationToken);
        request.Body.Position = 0;
        if (!Utf8.IsValid(body.GetBuffer().AsSpan(0, (int)body.Length)))
        {
            throw new BadHttpRequestException(NotUtf8, StatusCodes.Status400BadRequest);
        }
    }
}
