// Password helpers for Portero's forms. Every form works without this
// script: it only adds a show-password button and a strength hint.
//
// A password input with data-show="LABEL" gets a toggle button after it,
// named LABEL, that switches the input between type=password and type=text
// and reports the state with aria-pressed.
//
// A password input with data-meter="ID" updates the element with that ID as
// the user types. That element contains a <meter>, a visible text that screen
// readers skip, and a polite live region with the same text for them. Its
// data-* attributes carry the messages in the page's language and the
// server's maximum length: data-max-bytes in bytes of UTF-8 and, when not 0,
// data-max-chars in characters.
(function () {
  "use strict";

  // The same minimum as the server's password rules, in characters.
  var minChars = 12;
  // bcrypt's limit, for a page that gives no data-max-bytes.
  var defaultMaxBytes = 72;
  // Wait this long after the last key press before the live region
  // changes, so that a screen reader does not read out every keystroke.
  var announceDelay = 600;

  function addToggle(input) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "reveal";
    button.textContent = input.dataset.show;
    // A page with several password fields has several such buttons, so
    // each one's accessible name also names its field. It starts with the
    // visible text, which voice control users say to press it.
    if (input.labels && input.labels.length > 0) {
      button.setAttribute("aria-label", input.dataset.show + " (" + input.labels[0].textContent.trim() + ")");
    }
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-controls", input.id);
    button.addEventListener("click", function () {
      var reveal = input.type === "password";
      input.type = reveal ? "text" : "password";
      button.setAttribute("aria-pressed", reveal ? "true" : "false");
    });
    input.insertAdjacentElement("afterend", button);

    // A revealed field goes back to type=password before the form is
    // sent, so that the browser does not keep the password in its history
    // of text fields.
    if (input.form) {
      input.form.addEventListener("submit", function () {
        input.type = "password";
        button.setAttribute("aria-pressed", "false");
      });
    }
  }

  // countChars counts characters as the server does: code points, with
  // each run of spaces counted once.
  function countChars(chars) {
    var n = 0;
    chars.forEach(function (c, i) {
      if (c !== " " || chars[i - 1] !== " ") {
        n++;
      }
    });
    return n;
  }

  // strength returns 1 (weak), 2 (fair) or 3 (strong) for a password that
  // meets the length rules. It is a rough hint from the length and the mix
  // of character kinds. The server does not use it.
  function strength(chars) {
    var kinds = 0;
    [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].forEach(function (pattern) {
      if (chars.some(function (c) { return pattern.test(c); })) {
        kinds++;
      }
    });
    var distinct = new Set(chars).size;

    if (distinct < 6) {
      return 1;
    }
    if (chars.length >= 20 || (chars.length >= 16 && kinds >= 3)) {
      return 3;
    }
    if (chars.length >= 14 || kinds >= 3) {
      return 2;
    }
    return 1;
  }

  function addMeter(input, box) {
    var meter = box.querySelector("meter");
    var visible = box.querySelector("[aria-hidden=true]:not(meter)");
    var live = box.querySelector("[aria-live]");
    var encoder = new TextEncoder();
    var timer = 0;
    var maxBytes = Number(box.dataset.maxBytes) || defaultMaxBytes;
    var maxChars = Number(box.dataset.maxChars) || 0;

    function describe() {
      var chars = Array.from(input.value);
      var count = countChars(chars);
      var bytes = encoder.encode(input.value).length;
      if (chars.length === 0) {
        return { level: 0, text: "" };
      }

      // A message with one %d gets only the character count.
      var length = box.dataset.length.replace("%d", count).replace("%d", bytes);
      if (bytes > maxBytes || (maxChars > 0 && count > maxChars)) {
        return { level: 0, text: length + " " + box.dataset.long };
      }
      if (count < minChars) {
        return { level: 0, text: length + " " + box.dataset.short };
      }

      var level = strength(chars);
      var words = [box.dataset.weak, box.dataset.fair, box.dataset.strong];
      return { level: level, text: length + " " + words[level - 1] };
    }

    function update() {
      var result = describe();
      meter.value = result.level;
      visible.textContent = result.text;
      clearTimeout(timer);
      timer = setTimeout(function () {
        live.textContent = result.text;
      }, announceDelay);
    }

    box.hidden = false;
    input.addEventListener("input", update);
    update();
  }

  document.querySelectorAll("input[type=password][data-show]").forEach(addToggle);
  document.querySelectorAll("input[type=password][data-meter]").forEach(function (input) {
    var box = document.getElementById(input.dataset.meter);
    if (box) {
      addMeter(input, box);
    }
  });
})();
