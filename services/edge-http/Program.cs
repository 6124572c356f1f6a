using Registry.EdgeHttp;

// The registry: dotnet run --project services/edge-http [-- --urls http://127.0.0.1:5000 --data-dir ./data]
return await Registry.Hosting.ProcessMain.RunAsync("registry", () => RegistryApp.RunAsync(args));
