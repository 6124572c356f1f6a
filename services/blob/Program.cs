using Registry.Blob;
using Registry.Hosting;

// The blob service on its own: dotnet run --project services/blob -- --urls http://127.0.0.1:5103 --data-dir ./data
return await ProcessMain.RunAsync("registry-blob", async () =>
{
    var builder = RegistryHost.CreateServiceBuilder(args);
    builder.Services.AddBlobService(builder.Configuration);
    var app = builder.Build();
    app.MapBlobService();
    app.MapServiceObservability();
    await app.RunAsync();
});
