window.addEventListener("load", function () {
  // every image element decoded, and every image embedded in a map SVG decodable
  var imgs = Array.prototype.slice.call(document.images);
  var inSvg = Array.prototype.slice.call(document.querySelectorAll("svg image"));
  Promise.all(inSvg.map(function (el) {
    return new Promise(function (resolve) {
      var im = new Image();
      im.onload = function () { resolve(im.naturalWidth > 0); };
      im.onerror = function () { resolve(false); };
      im.src = el.getAttribute("href");
    });
  })).then(function (svgOk) {
    var ok = imgs.every(function (i) { return i.complete && i.naturalWidth > 0; }) &&
      svgOk.every(Boolean);
    document.body.setAttribute("data-images-ok", ok ? "true" : "false");
    document.body.setAttribute("data-images-count", String(imgs.length + inSvg.length));
    document.body.setAttribute("data-maps-count",
                               String(document.querySelectorAll("svg.map").length));
  });
});
