// Security key ceremonies for Portero's pages. The server sends WebAuthn
// options as JSON, with binary fields in base64url. This script turns them
// into the ArrayBuffers that navigator.credentials expects, runs the
// ceremony, and posts the response as JSON in the form's "credential"
// field, with binary fields in base64url again.
//
// #login-key-form carries the request options and #register-key-form the
// creation options, each in data-options. Without this script the forms
// post no credential, and the server shows that JavaScript is needed.
(function () {
  "use strict";

  function fromBase64url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4 !== 0) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeDescriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: fromBase64url(d.id) });
    });
  }

  // submitCredential posts the form with the credential as JSON, its
  // response made of clientDataJSON and the fields of the ceremony.
  function submitCredential(form, credential, fields) {
    var response = Object.assign({
      clientDataJSON: toBase64url(credential.response.clientDataJSON)
    }, fields);
    form.elements.credential.value = JSON.stringify({
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response
    });
    form.submit();
  }

  function showError(text) {
    var box = document.getElementById("key-error");
    box.textContent = text;
    box.hidden = false;
  }

  function supported(form) {
    if (window.PublicKeyCredential && navigator.credentials) {
      return true;
    }
    showError(form.dataset.unsupported);
    return false;
  }

  // setup runs ceremony with the form's options when the form is sent, and
  // posts the credential with the response fields that fields picks. A
  // closed dialog, a timeout and a key that does not fit all reject the
  // ceremony, and the user can press the button again.
  function setup(form, ceremony, fields) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!supported(form)) {
        return;
      }
      var options = JSON.parse(form.dataset.options).publicKey;
      options.challenge = fromBase64url(options.challenge);

      ceremony(options).then(function (credential) {
        submitCredential(form, credential, fields(credential.response));
      }, function () {
        showError(form.dataset.cancelled);
      });
    });
  }

  function login(options) {
    options.allowCredentials = decodeDescriptors(options.allowCredentials);
    return navigator.credentials.get({ publicKey: options });
  }

  function assertionFields(response) {
    return {
      authenticatorData: toBase64url(response.authenticatorData),
      signature: toBase64url(response.signature),
      userHandle: response.userHandle ? toBase64url(response.userHandle) : null
    };
  }

  function register(options) {
    options.user.id = fromBase64url(options.user.id);
    options.excludeCredentials = decodeDescriptors(options.excludeCredentials);
    return navigator.credentials.create({ publicKey: options });
  }

  function attestationFields(response) {
    return {
      attestationObject: toBase64url(response.attestationObject),
      transports: typeof response.getTransports === "function" ? response.getTransports() : []
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var loginForm = document.getElementById("login-key-form");
    if (loginForm) {
      setup(loginForm, login, assertionFields);
    }
    var registerForm = document.getElementById("register-key-form");
    if (registerForm) {
      setup(registerForm, register, attestationFields);
    }
  });
})();
