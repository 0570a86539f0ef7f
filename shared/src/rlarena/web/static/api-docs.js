// /api/v1/docs: Swagger UI (vendored, served from /assets/) on the merged OpenAPI document.
(function () {
  "use strict";

  function start() {
    var root = document.getElementById("swagger-ui");
    if (!root || !window.SwaggerUIBundle) { return; }
    root.textContent = "";
    window.SwaggerUIBundle({
      url: root.getAttribute("data-document"),
      domNode: root,
      deepLinking: true,
      validatorUrl: null,  // no badge from an outside validator: nothing leaves this site
      tryItOutEnabled: false,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    });
  }

  if (document.readyState === "complete") {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
