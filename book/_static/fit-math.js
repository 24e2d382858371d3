// The Adam Course: on a narrow screen (< 600 px), shrink a formula that is wider than the room it has, to no
// less than 75% of its size: a display equation wider than its box, or inline math wider than its line. One
// that still does not fit scrolls inside its own box (course.css). At desktop widths nothing is shrunk: there a
// too-wide equation is broken in the chapter's source (tests/test_browser.py fails on one). Marks
// <html data-math-fitted> when done, so that the browser tests know when to measure.
(function () {
  "use strict";
  var NARROW = 600;
  var MIN_SCALE = 0.75;

  function shrink(math, natural, room) {
    if (natural > room + 1) {
      var scale = Math.max(MIN_SCALE, Math.floor((room / natural) * 100) / 100);
      math.style.fontSize = Math.round(scale * 100) + "%";
    }
  }

  function fit() {
    var narrow = window.innerWidth < NARROW;
    var maths = document.querySelectorAll("div.math mjx-container > mjx-math, span.math mjx-container > mjx-math");
    var i;
    for (i = 0; i < maths.length; i++) maths[i].style.fontSize = "";  // measure at full size
    if (narrow) {
      var todo = [];
      for (i = 0; i < maths.length; i++) {
        var math = maths[i];
        var box = math.parentElement;  // the mjx-container
        var span = box.closest("span.math");
        if (span) {
          // inline: only when the span has grown to the whole line and the formula is still wider
          var parent = span.parentElement, ps = getComputedStyle(parent);
          var line = parent.clientWidth - parseFloat(ps.paddingLeft) - parseFloat(ps.paddingRight);
          var natural = math.getBoundingClientRect().width;
          if (span.getBoundingClientRect().width >= line - 1) todo.push([math, natural, line]);
        } else {
          todo.push([math, box.scrollWidth, box.clientWidth]);
        }
      }
      for (i = 0; i < todo.length; i++) shrink(todo[i][0], todo[i][1], todo[i][2]);  // measure first, then write
    }
    document.documentElement.dataset.mathFitted = narrow ? "narrow" : "wide";
  }

  var waited = 0;

  function whenTypeset() {
    if (!document.querySelector("div.math, span.math") || waited > 30000) {  // no math, or no MathJax
      document.documentElement.dataset.mathFitted = "none";
      return;
    }
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(fit);
    } else {
      waited += 50;
      setTimeout(whenTypeset, 50);  // MathJax loads after this script (deferred, from its CDN)
    }
  }

  var pending = null;
  window.addEventListener("resize", function () {
    if (document.documentElement.dataset.mathFitted === undefined) return;
    clearTimeout(pending);
    pending = setTimeout(fit, 150);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", whenTypeset);
  } else {
    whenTypeset();
  }
})();
