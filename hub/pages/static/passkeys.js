// Passkeys (WebAuthn) on Curbside's passkey pages: sign in (#passkey-signin) and add one
// (#passkey-add). The server gives the options as JSON and checks the answer; this file
// only carries them between the server and the browser's authenticator. Loaded as a file
// so the pages' Content-Security-Policy can keep forbidding inline script. It has no words
// of its own: what it says comes from the page, in the page's language (the data-*
// attributes of #passkey-error, hub/pages/templates/_passkeys_error.html), or from the
// server's translated error_description.
(function () {
  "use strict";

  function fromB64url(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: fromB64url(c.id) });
    });
  }

  // WebAuthn Level 3 parses the JSON options itself; older browsers get the same by hand.
  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromB64url(json.challenge),
      user: Object.assign({}, json.user, { id: fromB64url(json.user.id) }),
      excludeCredentials: withIds(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: fromB64url(json.challenge),
      allowCredentials: withIds(json.allowCredentials)
    });
  }

  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") return cred.toJSON();
    var r = cred.response, response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) response.userHandle = toB64url(r.userHandle);
    }
    return {
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type, response: response,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults()
    };
  }

  var alertBox = document.getElementById("passkey-error");

  function said(what) {
    return alertBox.dataset[what] || alertBox.dataset.failed;
  }

  function showError(message) {
    alertBox.textContent = message;
    alertBox.hidden = false;
  }

  // The server's words (already in the page's language), else the page's for what happened.
  function explain(err) {
    if (err && err.fromServer) return err.message;
    if (err && err.name === "NotAllowedError") return said("cancelled");
    if (err && err.name === "InvalidStateError") return said("registered");
    return said("failed");
  }

  function serverSaid(message) {
    var err = new Error(message);
    err.fromServer = true;
    return err;
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).catch(function () {
      throw serverSaid(said("unreachable"));
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (data) {
        if (!resp.ok) throw serverSaid(data.error_description || said("refused"));
        return data;
      });
    });
  }

  function unsupported() {
    if (window.PublicKeyCredential && navigator.credentials) return false;
    showError(said("unsupported"));
    return true;
  }

  // The buttons come disabled: they work only once this file has loaded and wired them.
  function wire(button, run) {
    button.disabled = false;
    button.addEventListener("click", function () {
      if (unsupported()) return;
      button.disabled = true;
      run().catch(function (err) {
        button.disabled = false;
        showError(explain(err));
      });
    });
  }

  var signin = document.getElementById("passkey-signin");
  if (signin) {
    wire(signin, function () {
      var form = signin.form;
      return postJSON(signin.dataset.optionsUrl, { pending: form.elements.pending.value })
        .then(function (options) {
          return navigator.credentials.get({ publicKey: requestOptions(options) });
        })
        .then(function (cred) {
          form.elements.credential.value = JSON.stringify(credentialJSON(cred));
          form.submit();
        });
    });
  }

  var add = document.getElementById("passkey-add");
  if (add) {
    wire(add, function () {
      var form = add.form;
      return postJSON(add.dataset.optionsUrl, { csrf: form.elements.csrf.value })
        .then(function (options) {
          return navigator.credentials.create({ publicKey: creationOptions(options) });
        })
        .then(function (cred) {
          form.elements.credential.value = JSON.stringify(credentialJSON(cred));
          form.submit();
        });
    });
  }
})();
