// The Adam Course: make the article header's sidebar buttons work. sphinx-book-theme 1.3 and
// pydata-sphinx-theme 0.17 bind their handlers to document.querySelector(".primary-toggle") (and
// ".secondary-toggle"): the first such button, which is the one in pydata's top navbar (hidden by the book
// theme, and by course.css), not the visible one in the article header. So the menu button did nothing: no
// navigation on a phone, no collapsing the sidebar on a desktop. Forward each click to the bound button.
(function () {
  "use strict";
  function forward(selector) {
    var bound = document.querySelector(selector);
    document.querySelectorAll(selector).forEach(function (button) {
      if (button === bound) return;
      button.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    });
  }
  function init() {
    forward(".primary-toggle");
    forward(".secondary-toggle");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
