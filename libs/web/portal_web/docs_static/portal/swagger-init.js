// Starts Swagger UI with the settings its page carries in `data-config` (JSON). A file, not an
// inline script: the docs pages' Content-Security-Policy allows scripts from the service only.
"use strict";
(function () {
  var element = document.getElementById("swagger-ui");
  var config = JSON.parse(element.dataset.config);
  var initOAuth = config.initOAuth;
  delete config.initOAuth;
  config.oauth2RedirectUrl = window.location.origin + config.oauth2RedirectUrl;
  config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
  window.ui = SwaggerUIBundle(config);
  if (initOAuth) {
    window.ui.initOAuth(initOAuth);
  }
})();
