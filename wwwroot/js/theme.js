// The layout's theme switch remembers the choice here; App.razor reads the cookie when it renders the next page.
window.vmcTheme = {
  remember: (choice) => {
    document.cookie = `vmc-theme=${choice === "dark" ? "dark" : "light"}; path=/; max-age=31536000; samesite=lax`;
  },
};
