// tearline lab: the real CopilotKit front end. Responses are not gzipped so recorded bodies stay readable.
/** @type {import('next').NextConfig} */
const nextConfig = {
  compress: false,
  poweredByHeader: false,
  productionBrowserSourceMaps: false,
};

export default nextConfig;
