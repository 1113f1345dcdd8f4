/* /docs: Swagger UI over the server's own /openapi.json, from the vendored swagger-ui-dist package (no CDN, so
 * it works offline). swagger-ui-bundle.js is a classic script that defines window.SwaggerUIBundle. */
window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
