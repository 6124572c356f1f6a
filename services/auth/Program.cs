using Registry.Auth;
using Registry.Hosting;

// The auth service on its own: dotnet run --project services/auth -- --urls http://127.0.0.1:5101
return await ProcessMain.RunAsync("registry-auth", async () =>
{
    var builder = RegistryHost.CreateServiceBuilder(args);
    builder.Services.AddAuthService();
    var app = builder.Build();
    app.MapAuthService();
    app.MapServiceObservability();
    await app.RunAsync();
});
