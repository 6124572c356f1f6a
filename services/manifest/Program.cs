using Registry.Hosting;
using Registry.Manifest;

// The manifest service on its own:
// dotnet run --project services/manifest -- --urls http://127.0.0.1:5102 --data-dir ./data --Registry:Services:Blob http://127.0.0.1:5103
return await ProcessMain.RunAsync("registry-manifest", async () =>
{
    var builder = RegistryHost.CreateServiceBuilder(args);
    builder.Services.AddManifestService(builder.Configuration);
    var app = builder.Build();
    app.MapManifestService();
    app.MapServiceObservability();
    await app.RunAsync();
});
