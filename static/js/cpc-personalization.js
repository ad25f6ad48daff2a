/*
 * Custom Personalization Connection: a small browser client for sites that do not use Adobe's Web SDK.
 *
 *   const cpc = CPC.createClient({ edgeUrl: "https://edge.example.com", datastreamId: "…", orgId: "…@AdobeOrg" });
 *   cpc.sendEvent({ xdm: { eventType: "web.webpagedetails.pageViews" } })
 *      .then(({ destinations }) => { … });
 *
 * The promise always resolves (never rejects) within `timeoutMs`, with `destinations` empty on failure
 * and `error` set, so a page can render its default content and never waits longer than it chose.
 * The visitor's ECID is kept in the same first-party cookie Adobe's Web SDK uses.
 */
(function (global) {
  "use strict";

  var ONE_YEAR_SECONDS = 34128000;

  function cookieName(orgId) {
    return "kndctr_" + String(orgId).replace("@", "_") + "_identity";
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var index = parts[i].indexOf("=");
      if (parts[i].slice(0, index) === name) return decodeURIComponent(parts[i].slice(index + 1));
    }
    return null;
  }

  function writeCookie(name, value, maxAge) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = name + "=" + encodeURIComponent(value) + "; Max-Age=" + maxAge + "; Path=/; SameSite=Lax" + secure;
  }

  function uuid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 0x3) | 0x8).toString(16);
    });
  }

  // The cookie holds what the Edge Network stores: base64url of a protobuf whose field 1 is the ECID (or,
  // from older clients, the bare 38 digits). Answer the ECID itself, or null when the value is neither.
  function ecidFromCookie(value) {
    if (!value) return null;
    if (/^[0-9]{38}$/.test(value)) return value;
    try {
      var raw = global.atob(value.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((value.length + 3) % 4));
      if (raw.charCodeAt(0) !== 0x0a) return null;
      var ecid = raw.substr(2, raw.charCodeAt(1));
      return /^[0-9]{38}$/.test(ecid) ? ecid : null;
    } catch (error) {
      return null;
    }
  }

  function handlesOf(response, type) {
    return (response.handle || []).filter(function (handle) { return handle.type === type; });
  }

  function createClient(options) {
    if (!options || !options.datastreamId || !options.orgId) {
      throw new Error("CPC.createClient needs datastreamId and orgId");
    }
    var edgeUrl = (options.edgeUrl || "").replace(/\/$/, "");
    var timeoutMs = options.timeoutMs || 1000;
    var name = cookieName(options.orgId);

    function remember(response) {
      handlesOf(response, "state:store").forEach(function (handle) {
        (handle.payload || []).forEach(function (entry) {
          if (entry.key === name) writeCookie(name, entry.value, entry.maxAge || ONE_YEAR_SECONDS);
        });
      });
    }

    function sendEvent(event) {
      var ecid = readCookie(name);
      var body = {
        events: [{ xdm: (event && event.xdm) || {}, data: (event && event.data) || undefined }],
        query: { identity: { fetch: ["ECID"] } },
        meta: { state: { domain: location.hostname, cookiesEnabled: true, entries: ecid ? [{ key: name, value: ecid }] : [] } },
      };
      var url = edgeUrl + "/ee/v1/interact?configId=" + encodeURIComponent(options.datastreamId) + "&requestId=" + uuid();
      var controller = global.AbortController ? new AbortController() : null;
      var timer = setTimeout(function () { if (controller) controller.abort(); }, timeoutMs);
      return fetch(url, {
        method: "POST",
        // text/plain keeps this a "simple" CORS request: no preflight round trip before the lookup.
        headers: { "Content-Type": "text/plain; charset=UTF-8" },
        body: JSON.stringify(body),
        credentials: "include",
        keepalive: true,
        signal: controller ? controller.signal : undefined,
      })
        .then(function (response) {
          return response.json().then(function (json) {
            if (!response.ok) throw new Error(json.title || "lookup failed with status " + response.status);
            return json;
          });
        })
        .then(function (json) {
          remember(json);
          var destinations = [];
          handlesOf(json, "activation:pull").forEach(function (handle) {
            destinations = destinations.concat(handle.payload || []);
          });
          var identity = handlesOf(json, "identity:result")[0];
          var known = identity ? identity.payload[0].id : ecidFromCookie(readCookie(name));
          return { destinations: destinations, ecid: known, requestId: json.requestId };
        })
        .catch(function (error) {
          var known = ecidFromCookie(ecid);
          return { destinations: [], ecid: known, error: error.name === "AbortError" ? "timeout" : String(error.message || error) };
        })
        .finally(function () { clearTimeout(timer); });
    }

    return { sendEvent: sendEvent, cookieName: name };
  }

  global.CPC = { createClient: createClient };
})(window);
