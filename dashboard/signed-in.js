// signed-in.html: hand the tenant's answer to the page that asked (MSAL's redirect bridge);
// the dashboard's handleRedirectPromise then redeems it. Anything else: back to the dashboard.
window.msalRedirectBridge.broadcastResponseToMainFrame().catch(() => {
  window.location.replace("./");
});
