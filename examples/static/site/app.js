// Runs in the browser.
document.getElementById("time").textContent = `Loaded at ${new Date().toLocaleTimeString()}`;
